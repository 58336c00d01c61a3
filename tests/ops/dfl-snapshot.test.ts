/**
 * A snapshot of a DeepFaceLab model folder says what DeepFaceLab users look for: the iteration,
 * both losses, the model class and its options (resolution, archi, batch size, ...), in
 * `snapshot.json`, in a save exported from it, and in `ckptd show`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRecord } from '../../src/client/list.js';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { captureSnapshot, exportSave, progressOf, scanRun } from '../../src/ops/run-actions.js';
import { readProgress, runFilesOf } from '../../src/progress/read-progress.js';
import type { Logger } from '../../src/util/logger.js';
import { putDflModel } from '../progress/dfl-fixtures.js';
import { runAndStore } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

function dflRun(run: string, store: string): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return {
    ...c,
    settleMs: 50,
    progress: { kind: 'preset', preset: 'dfl' },
    save: { ...c.save, files: ['*.npy', '*_data.dat', '*_summary.txt'] },
    retention: { ...c.retention, minFreeBytes: 0 },
  };
}

const SRC = 1.0792219638824463;
const DST = 1.006237506866455;

describe('snapshots of a DeepFaceLab model folder', () => {
  it('carry the iteration, both losses, the model class and the trainer options, and show them', async () => {
    const { run, store } = await runAndStore();
    const cfg = dflRun(run, store);
    putDflModel(run, 'saehd-p3');
    const entries = await scanRun(cfg);
    const progress = await readProgress(run, cfg.progress, runFilesOf(entries));
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress, now: Date.now() }, quiet);

    expect(meta).toMatchObject({ epoch: null, step: 300, loss: SRC, metrics: { src_loss: SRC, dst_loss: DST }, model_type: 'SAEHD' });
    expect(meta.trainer).toMatchObject({ name: 'DeepFaceLab', model: 'new_SAEHD', options: { resolution: '224', face_type: 'wf', archi: 'liae-ud', batch_size: '8' } });
    const onDisk = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', meta.id, 'snapshot.json'), 'utf8')) as typeof meta;
    expect(onDisk.trainer).toEqual(meta.trainer);

    const shown = renderRecord(onDisk, Date.now());
    expect(shown).toContain('model type: SAEHD');
    expect(shown).toContain('trainer:    DeepFaceLab, model new_SAEHD');
    expect(shown).toMatch(/^options:\s+resolution 224, face_type wf, models_opt_on_gpu True, archi liae-ud, ae_dims 256,/m);
    expect(shown).toContain('batch_size 8');

    const save = await exportSave(cfg, entries, progressOf(meta, progress.source), 'test', meta, Date.now(), quiet);
    expect(save).toMatchObject({ step: 300, model_type: 'SAEHD', trainer: { name: 'DeepFaceLab', model: 'new_SAEHD' } });
  });

  it('leave trainer out where no source says anything of it', async () => {
    const { run, store } = await runAndStore();
    const cfg = { ...dflRun(run, store), progress: { kind: 'none' as const } };
    putDflModel(run, 'xseg-p3');
    const entries = await scanRun(cfg);
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: await readProgress(run, cfg.progress, []), now: Date.now() }, quiet);
    expect(meta.model_type).toBe('XSeg');
    expect('trainer' in meta).toBe(false);
    expect(renderRecord(meta, Date.now())).not.toContain('trainer:');
  });
});
