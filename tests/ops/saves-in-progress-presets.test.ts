/**
 * Which trainers' half-saved folders a run waits for, by its progress preset: each preset its own
 * trainer's folders (`lightning` both DeepSpeed and sharded FSDP `*.ckpt/` folders), `auto` every
 * layout once the run shows it, and no preset another trainer's folders.
 */
import { describe, expect, it } from 'vitest';
import type { ProgressSpec, RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { savesInProgress } from '../../src/ops/settle.js';
import type { ScanEntry } from '../../src/store/types.js';

const entry = (p: string): ScanEntry => ({ path: p, type: 'file', size: 1, mtimeNs: '0', ino: 1, mode: 0o644 });

function waitedFor(progress: ProgressSpec, paths: string[]): string[] {
  const run: RunConfig = { ...zeroConfig('/tmp/ckptd-presets-run', '/tmp/ckptd-presets-store').runs[0]!, progress };
  return savesInProgress(run, paths.map(entry)).map((b) => b.path);
}

const preset = (name: Extract<ProgressSpec, { kind: 'preset' }>['preset']): ProgressSpec => ({ kind: 'preset', preset: name });

const HALF_ONETRAINER = ['backup/2026-01-02_11-00-00-backup-200-2-0/unet/model.safetensors'];
const WHOLE_ONETRAINER = ['backup/2026-01-02_10-00-00-backup-100-1-0/unet/model.safetensors', 'backup/2026-01-02_10-00-00-backup-100-1-0/meta.json'];
const HALF_DEEPSPEED = ['ck/epoch=1-step=200.ckpt/checkpoint/mp_rank_00_model_states.pt'];
const WHOLE_DEEPSPEED = ['ck/epoch=0-step=100.ckpt/checkpoint/mp_rank_00_model_states.pt', 'ck/epoch=0-step=100.ckpt/latest'];
const HALF_FSDP = ['ck/epoch=1-step=250.ckpt/__0_0.distcp'];

describe('savesInProgress: the folders each progress preset waits for', () => {
  it('onetrainer waits for a backup without meta.json; lightning for DeepSpeed and FSDP *.ckpt/ folders', () => {
    expect(waitedFor(preset('onetrainer'), HALF_ONETRAINER)).toEqual(['backup/2026-01-02_11-00-00-backup-200-2-0']);
    expect(waitedFor(preset('lightning'), [...HALF_DEEPSPEED, ...HALF_FSDP])).toEqual(['ck/epoch=1-step=200.ckpt', 'ck/epoch=1-step=250.ckpt']);
  });

  it('a preset never waits for another trainer\'s folders', () => {
    expect(waitedFor(preset('hf'), [...WHOLE_ONETRAINER, ...HALF_ONETRAINER, ...WHOLE_DEEPSPEED, ...HALF_DEEPSPEED])).toEqual([]);
    expect(waitedFor(preset('onetrainer'), [...WHOLE_DEEPSPEED, ...HALF_DEEPSPEED])).toEqual([]);
    expect(waitedFor(preset('lightning'), [...WHOLE_ONETRAINER, ...HALF_ONETRAINER])).toEqual([]);
  });

  it('auto waits only once the run shows the layout', () => {
    expect(waitedFor({ kind: 'auto' }, [...HALF_ONETRAINER, ...HALF_DEEPSPEED, ...HALF_FSDP])).toEqual([]);
    expect(waitedFor({ kind: 'auto' }, [...WHOLE_ONETRAINER, ...HALF_ONETRAINER, ...WHOLE_DEEPSPEED, ...HALF_DEEPSPEED, ...HALF_FSDP])).toEqual([
      'backup/2026-01-02_11-00-00-backup-200-2-0',
      'ck/epoch=1-step=200.ckpt',
    ]);
  });
});
