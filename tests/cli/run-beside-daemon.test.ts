/**
 * README (`ckptd run`): one store has one writer, so while a `ckptd daemon` holds the run's store,
 * `ckptd run` refuses before starting the trainer: exit 3 (refused for safety), naming the daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

describe('ckptd run while a daemon holds the store', () => {
  it('refuses with exit 3, naming the daemon, and never starts the trainer', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { dir, cleanup: removeDir } = tempDir('ckptd-run-beside-');
    cleanup(removeDir);
    fs.mkdirSync(path.join(dir, 'run'));
    const config = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(config, ['log:', '  format: json', 'runs:', '  - name: r', '    path: ./run', '    store: ./store', '    settle: 200ms', ''].join('\n'));
    const daemon = startDaemon(['daemon', '--config', config]);
    cleanup(() => daemon.stop());
    await daemon.waitFor((l) => l.event === 'daemon-start', 30_000, 'the daemon to start');
    const marker = path.join(dir, 'trainer-ran');
    const r = await runCli(['run', '--config', config, '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`is in use by ckptd daemon pid ${daemon.proc.pid}`);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
