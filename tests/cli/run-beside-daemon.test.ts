/**
 * README (`ckptd run`): one store has one writer, so while a `ckptd daemon` holds the run's store,
 * `ckptd run` refuses before starting the trainer: exit 3 (refused for safety), naming the daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';

const cleanups: (() => void)[] = [];
let daemon: DaemonHandle | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  for (const c of cleanups.splice(0)) c();
});

describe('ckptd run while a daemon holds the store', () => {
  it('refuses with exit 3, naming the daemon, and never starts the trainer', async () => {
    const { dir, cleanup } = tempDir('ckptd-run-beside-');
    cleanups.push(cleanup);
    fs.mkdirSync(path.join(dir, 'run'));
    const config = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(config, ['log:', '  format: json', 'runs:', '  - name: r', '    path: ./run', '    store: ./store', '    settle: 200ms', ''].join('\n'));
    daemon = startDaemon(['daemon', '--config', config]);
    await daemon.waitFor((l) => l.event === 'daemon-start', 30_000, 'the daemon to start');
    const marker = path.join(dir, 'trainer-ran');
    const r = await runCli(['run', '--config', config, '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`is in use by ckptd daemon pid ${daemon.proc.pid}`);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
