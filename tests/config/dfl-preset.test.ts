/**
 * DeepFaceLab runs: `init --preset dfl` writes a config for `workspace/model` that waits out a
 * save and backs up by iterations, and with `progress: dfl` the rotating autobackups and the
 * preview history are never part of the state, whatever the config's own `exclude` says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInit } from '../../src/cli/init.js';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { scanRun } from '../../src/ops/run-actions.js';
import { activityPathOf } from '../../src/daemon/run-watch.js';
import { tempRun } from '../progress/fixtures.js';

function write(root: string, rel: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), 'x');
}

/** A model folder after some saves, an autobackup and a few preview-history images. */
function modelFolder(root: string): void {
  for (const f of ['new_SAEHD_data.dat', 'new_SAEHD_summary.txt', 'new_SAEHD_encoder.npy', 'new_SAEHD_src_dst_opt.npy', 'SAEHD_default_options.dat']) write(root, f);
  for (const f of ['new_SAEHD_data.dat', 'new_SAEHD_encoder.npy', 'preview_SAEHD masked.jpg']) write(root, `new_SAEHD_autobackups/01/${f}`);
  write(root, 'new_SAEHD_history/SAEHD masked/0000010.jpg');
  write(root, 'new_SAEHD_history/SAEHD masked/_last.jpg');
}

const STATE = ['SAEHD_default_options.dat', 'new_SAEHD_data.dat', 'new_SAEHD_encoder.npy', 'new_SAEHD_src_dst_opt.npy', 'new_SAEHD_summary.txt'];

describe('ckptd init --preset dfl', () => {
  it('writes a config for the model folder: dfl progress, a long settle, backups every 10000 iterations, the autobackups and history left out', async () => {
    const dir = await tempRun();
    const model = path.join(dir, 'workspace', 'model');
    modelFolder(model);
    const configPath = path.join(dir, 'ckptd.yaml');
    runInit({ dir: model, preset: 'dfl', configPath, force: false });
    const text = fs.readFileSync(configPath, 'utf8');
    expect(text).toContain('# For DeepFaceLab: the workspace/model folder');
    const run = loadConfigFile(configPath).runs[0]!;
    expect(run).toMatchObject({
      name: 'model',
      path: model,
      progress: { kind: 'preset', preset: 'dfl' },
      settleMs: 60_000,
      backup: { every: { unit: 'steps', n: 10000 } },
      save: { files: ['*.npy', '*_data.dat', '*_summary.txt'] },
    });
    expect((await scanRun(run)).map((e) => e.path)).toEqual(STATE);
  });
});

describe('progress: dfl', () => {
  it('leaves DeepFaceLab autobackups, preview history and Colab previews out of the state, and out of the watch', async () => {
    const dir = await tempRun();
    modelFolder(path.join(dir, 'model'));
    write(path.join(dir, 'model'), 'new_SAEHD_preview_SAEHD masked.jpg');
    const r = parseConfigText('runs:\n  - name: m\n    path: ./model\n    progress: dfl\n    exclude: ["*.bak"]\n', path.join(dir, 'ckptd.yaml'));
    if ('problems' in r) throw new Error('the config did not load');
    const run = r.config.runs[0]!;
    expect(run.exclude).toEqual(['*.bak', '**/*_autobackups/**', '**/*_history/**', '**/*_preview_*.jpg']);
    expect((await scanRun(run)).map((e) => e.path)).toEqual(STATE);
    const activity = activityPathOf(run);
    expect(activity(path.join(run.path, 'new_SAEHD_history/SAEHD masked/0000020.jpg'))).toBeNull();
    expect(activity(path.join(run.path, 'new_SAEHD_encoder.npy.tmp'))).toBe('new_SAEHD_encoder.npy.tmp');
  });

  it('refuses backups by epochs, which DeepFaceLab never counts, and says to write steps', () => {
    const r = parseConfigText('runs:\n  - name: m\n    path: ./model\n    progress: dfl\n    backup:\n      every: 2 epochs\n', '/home/ana/ckptd.yaml');
    expect('problems' in r ? r.problems.map((p) => p.message) : []).toEqual([
      '"epochs" never fire with progress: dfl: DeepFaceLab counts iterations, not epochs; write N steps (e.g. 10000 steps)',
    ]);
  });

  it('leaves the exclude list of other runs as written', () => {
    const r = parseConfigText('runs:\n  - name: m\n    path: ./model\n    progress: auto\n', '/home/ana/ckptd.yaml');
    if ('problems' in r) throw new Error('the config did not load');
    expect(r.config.runs[0]!.exclude).toEqual([]);
  });
});
