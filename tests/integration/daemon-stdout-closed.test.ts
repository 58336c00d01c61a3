/**
 * `ckptd daemon` logs to stdout; when whatever reads it goes away (`ckptd daemon | tee log` and the
 * tee is killed, a dropped ssh session), the daemon must go on backing up: its log lines are lost,
 * its backups are not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CLI, tempDir } from '../helpers/daemon-process.js';
import { waitUntil } from '../helpers/wait.js';

describe('ckptd daemon with its stdout and stderr closed', () => {
  it('keeps backing up, and stops cleanly on SIGTERM', async () => {
    const t = tempDir('ckptd-daemon-stdout-');
    onTestFinished(t.cleanup);
    fs.mkdirSync(path.join(t.dir, 'run'));
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'runs:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: always}\n    retention: {min_free: 1MB}\n');
    const proc = spawn(process.execPath, [CLI, 'daemon', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void proc.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    // The readers go away before the daemon writes its first line.
    proc.stdout!.destroy();
    proc.stderr!.destroy();
    fs.writeFileSync(path.join(t.dir, 'run', 'model.bin'), 'weights');
    const snapshots = path.join(t.dir, '.ckptd', 'r', 'snapshots');
    await waitUntil(() => fs.existsSync(snapshots) && fs.readdirSync(snapshots).length === 1, 'a backup by the daemon whose log readers are gone', 30_000);
    const copy = path.join(snapshots, fs.readdirSync(snapshots)[0]!, 'files', 'model.bin');
    expect(fs.readFileSync(copy, 'utf8')).toBe('weights');
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
