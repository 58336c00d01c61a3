/**
 * `save.keep: N` under the daemon: a save beyond the newest N is deleted as soon as the save that
 * pushes it out is exported, not at the next backup's retention (an epoch or more later, while
 * `save.to` holds one save too many).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

describe('save.keep under the daemon', () => {
  it('a save pushed out of the newest N is deleted right after the save that pushed it out', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir('ckptd-save-keep-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      `log: {format: json}\nruns:\n  - name: train\n    path: ./run\n    settle: 200ms\n    progress: {file: progress.json, epoch: epoch}\n` +
        `    backup: {every: 1 epochs, keep: 5}\n    save: {every: 1 epochs, keep: 2, files: ["*.safetensors"], to: ${path.join(t.dir, 'saves')}}\n`,
    );
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanup(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 30_000, 'the daemon start');
    const saves: string[] = [];
    for (const epoch of [1, 2, 3]) {
      fs.writeFileSync(path.join(run, 'model.safetensors'), `weights of epoch ${epoch}`);
      fs.writeFileSync(path.join(run, 'progress.json'), JSON.stringify({ epoch }));
      const save = await d.waitFor((l) => l.event === 'save' && l.epoch === epoch, 30_000, `the save of epoch ${epoch}`);
      saves.push(String(save.id));
    }
    // No epoch 4 (no backup, so no later retention): the save of epoch 1 goes now.
    const deleted = await d.waitFor((l) => l.event === 'delete' && l.id === saves[0], 15_000, 'the save of epoch 1 deleted');
    expect(deleted.message).toMatch(/beyond save\.keep=2/);
    const listed = JSON.parse((await runCli(['list', '--kind', 'save', '--json', '--config', cfg])).stdout) as { id: string }[];
    expect(listed.map((s) => s.id).sort()).toEqual([saves[1], saves[2]].sort());
  }, 120_000);
});
