/**
 * A save of one model file keeps the extension its loader goes by. Keras 3 loads a name ending in
 * `.weights.h5` as its own weights format, and a bare `.h5` as a legacy Keras 2 file
 * (`keras/src/saving/saving_api.py` `load_weights`), which a Keras 3 weights file is not: a save of
 * BackupAndRestore's `latest.weights.h5` named `run-e2-<id>.h5` could not be loaded until renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

describe('a save of a Keras 3 weights file', () => {
  it('is named with .weights.h5, not .h5', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir('ckptd-save-compound-ext-');
    cleanup(t.cleanup);
    const backup = path.join(t.dir, 'run', 'backup');
    fs.mkdirSync(backup, { recursive: true });
    fs.writeFileSync(path.join(backup, 'latest.weights.h5'), 'weights after epoch 2');
    fs.writeFileSync(path.join(backup, 'training_metadata.json'), JSON.stringify({ epoch: 2, batch: 0 }));
    const old = new Date(Date.now() - 60_000);
    for (const f of fs.readdirSync(backup)) fs.utimesSync(path.join(backup, f), old, old);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      'log: {format: json}\nruns:\n  - name: k\n    path: ./run\n    progress: keras\n    settle: 100ms\n    backup: {every: 1 epochs}\n' +
        '    save: {every: 1 epochs, files: ["**/*.keras", "**/*.weights.h5"]}\n    retention: {min_free: 1MB}\n',
    );
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanup(() => d.stop());
    const saved = await d.waitFor((l) => l.event === 'save', 30_000, 'the save of epoch 2');
    expect(path.basename(String(saved.path))).toMatch(/^k-e2-.+\.weights\.h5$/);
    expect(fs.readFileSync(String(saved.path), 'utf8')).toBe('weights after epoch 2');
  });
});
