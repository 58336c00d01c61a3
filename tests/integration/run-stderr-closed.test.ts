/**
 * `ckptd run` logs to stderr; when whatever reads it goes away (`ckptd run -- train 2>&1 | tee
 * log` and the tee is killed, a dropped ssh session), ckptd must go on supervising the trainer:
 * its log lines are lost, its backups and its session record are not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CLI, tempDir } from '../helpers/daemon-process.js';

describe('ckptd run with its stderr closed', () => {
  it('keeps supervising the trainer, backs up its final state and records its end', async () => {
    const t = tempDir('ckptd-run-stderr-');
    onTestFinished(t.cleanup);
    fs.mkdirSync(path.join(t.dir, 'run'));
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'runs:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: always}\n    retention: {min_free: 1MB}\n');
    const trainer = `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(path.join(t.dir, 'run', 'model.bin'))}, 'final weights'), 1000)`;
    const proc = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--', process.execPath, '-e', trainer], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    onTestFinished(() => void proc.kill('SIGKILL'));
    // The reader goes away before ckptd writes its first line.
    proc.stderr!.destroy();
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));

    expect(code).toBe(0);
    const session = JSON.parse(fs.readFileSync(path.join(t.dir, '.ckptd', 'r', 'session.json'), 'utf8')) as { finished: boolean };
    expect(session.finished).toBe(true);
    const snapshots = fs.readdirSync(path.join(t.dir, '.ckptd', 'r', 'snapshots'));
    expect(snapshots).toHaveLength(1);
    const copy = path.join(t.dir, '.ckptd', 'r', 'snapshots', snapshots[0]!, 'files', 'model.bin');
    expect(fs.readFileSync(copy, 'utf8')).toBe('final weights');
  }, 60_000);
});
