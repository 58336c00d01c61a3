/**
 * The presets that look at every listed path (lightning, onetrainer, kohya, dfl) skip the paths
 * that cannot hold what they look for before taking them apart: a run of 100,000 other files
 * must read exactly as the same run without them, whatever marks (`=`, `last`, `-`, `_data.dat`)
 * the other names share.
 */
import { describe, expect, it } from 'vitest';
import { newestDflModel } from '../../src/progress/dfl-files.js';
import { listKohyaSaves } from '../../src/progress/kohya-saves.js';
import { readLightning } from '../../src/progress/preset-lightning.js';
import { readOneTrainer } from '../../src/progress/preset-onetrainer.js';
import type { RunFile, RunView } from '../../src/progress/types.js';

/** A view of names only: every read finds nothing. */
function namesOnly(files: RunFile[]): RunView {
  const none = () => Promise.resolve(null);
  return { files, read: none, readPrefix: none, readRange: none, readZipPrefix: none, readEnds: none, mtimeMs: none };
}

/** Other files of a large run, some sharing the marks the presets look for, none of their names. */
function others(): RunFile[] {
  const out: RunFile[] = [];
  for (let d = 0; d < 20; d++) {
    for (let f = 0; f < 50; f++) out.push({ path: `data/d${String(d).padStart(3, '0')}/f${f}.json`, mtimeMs: 10_000 + f });
  }
  out.push(
    { path: 'logs/last_run/notes.txt', mtimeMs: 90_000 },
    { path: 'cfg/lr=3e-4/notes.txt', mtimeMs: 90_000 },
    { path: 'run-2024/a-b-c.txt', mtimeMs: 90_000 },
    { path: 'backup/readme-save-me.txt', mtimeMs: 90_000 },
    { path: 'misc/my_data.dat', mtimeMs: 90_000 },
    { path: 'misc/old_summary.txt', mtimeMs: 90_000 },
  );
  return out;
}

/** In path order, as a scan lists them. */
function sorted(files: RunFile[]): RunFile[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function mixed(wanted: RunFile[]): RunFile[] {
  return sorted([...others(), ...wanted]);
}

describe('presets among many other files', () => {
  it('lightning: the checkpoints (named, last.ckpt, a DeepSpeed folder) read the same with or without the other files', async () => {
    const wanted = [
      { path: 'lightning_logs/version_0/checkpoints/epoch=3-step=400.ckpt', mtimeMs: 1_000 },
      { path: 'lightning_logs/version_0/checkpoints/last.ckpt', mtimeMs: 2_000 },
      { path: 'lightning_logs/version_0/checkpoints/epoch=4-step=500-v1.ckpt/checkpoint/mp_rank_00_model_states.pt', mtimeMs: 3_000 },
    ];
    const alone = await readLightning(namesOnly(sorted(wanted)));
    expect(alone).toMatchObject({ epoch: 5, step: 500 });
    expect(await readLightning(namesOnly(mixed(wanted)))).toEqual(alone);
  });

  it('onetrainer: the newest backup by its name reads the same with or without the other files', async () => {
    const wanted = [
      { path: 'workspace/backup/2025-01-02_10-00-00-backup-300-2-10/model.safetensors', mtimeMs: 1_000 },
      { path: 'workspace/save/lora2025-01-01_09-00-00-save-200-1-5.safetensors', mtimeMs: 2_000 },
    ];
    const alone = await readOneTrainer(namesOnly(sorted(wanted)));
    expect(alone).toMatchObject({ epoch: 2, step: 300 });
    expect(await readOneTrainer(namesOnly(mixed(wanted)))).toEqual(alone);
  });

  it('kohya: saves, states and the final model are the same list with or without the other files', () => {
    const wanted = [
      { path: 'out/lora-000002.safetensors', mtimeMs: 1_000 },
      { path: 'out/lora-000002-state/train_state.json', mtimeMs: 1_100 },
      { path: 'out/lora-step00000300.safetensors', mtimeMs: 1_200 },
      { path: 'out/lora.safetensors', mtimeMs: 2_000 },
    ];
    const alone = listKohyaSaves(sorted(wanted));
    expect(alone.map((s) => s.kind).sort()).toEqual(['epoch', 'epoch-state', 'final', 'step']);
    expect(listKohyaSaves(mixed(wanted))).toEqual(alone);
  });

  it('dfl: the newest model is the same with or without the other files', () => {
    const wanted = [
      { path: 'workspace/model/new_SAEHD_data.dat', mtimeMs: 5_000 },
      { path: 'workspace/model/new_SAEHD_summary.txt', mtimeMs: 5_000 },
      { path: 'workspace/model/XSeg_data.dat', mtimeMs: 1_000 },
      { path: 'workspace/model/new_SAEHD_autobackups/01/new_SAEHD_data.dat', mtimeMs: 9_000 },
    ];
    const alone = newestDflModel(sorted(wanted));
    expect(alone?.name).toBe('new_SAEHD');
    expect(newestDflModel(mixed(wanted))).toEqual(alone);
  });
});
