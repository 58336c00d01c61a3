/**
 * `ckptd daemon` logs to stdout, `ckptd run` to stderr; when whatever reads them goes away (`ckptd
 * run -- train 2>&1 | tee log` or `ckptd daemon | tee log` and the tee is killed, a dropped ssh
 * session), ckptd must go on: its log lines are lost, its backups and its session record are not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CLI, tempDir } from '../helpers/daemon-process.js';
import { waitUntil } from '../helpers/wait.js';

/** A run folder and a config backing it up at every settled change; `args` start ckptd on it, its log readers gone at once. */
function startWithoutReaders(args: (cfg: string, run: string) => string[]) {
  const t = tempDir('ckptd-closed-output-');
  onTestFinished(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, 'runs:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: always}\n    retention: {min_free: 1MB}\n');
  const proc = spawn(process.execPath, [CLI, ...args(cfg, run)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  onTestFinished(() => void proc.kill('SIGKILL'));
  // The readers go away before ckptd writes its first line.
  proc.stdout!.destroy();
  proc.stderr!.destroy();
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  const store = path.join(t.dir, '.ckptd', 'r');
  const stored = (rel: string): string => {
    const ids = fs.readdirSync(path.join(store, 'snapshots'));
    expect(ids).toHaveLength(1);
    return fs.readFileSync(path.join(store, 'snapshots', ids[0]!, 'files', rel), 'utf8');
  };
  return { proc, exited, run, store, stored };
}

describe('ckptd with its log readers gone', () => {
  it('ckptd run keeps supervising the trainer, backs up its final state and records its end', async () => {
    const { exited, store, stored } = startWithoutReaders((cfg, run) => {
      const trainer = `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(path.join(run, 'model.bin'))}, 'final weights'), 1000)`;
      return ['run', '--config', cfg, '--', process.execPath, '-e', trainer];
    });
    expect(await exited).toBe(0);
    const session = JSON.parse(fs.readFileSync(path.join(store, 'session.json'), 'utf8')) as { finished: boolean };
    expect(session.finished).toBe(true);
    expect(stored('model.bin')).toBe('final weights');
  }, 60_000);

  it('ckptd daemon keeps backing up, and stops cleanly on SIGTERM', async () => {
    const { proc, exited, run, store, stored } = startWithoutReaders((cfg) => ['daemon', '--config', cfg]);
    fs.writeFileSync(path.join(run, 'model.bin'), 'weights');
    const snapshots = path.join(store, 'snapshots');
    await waitUntil(() => fs.existsSync(snapshots) && fs.readdirSync(snapshots).length === 1, 'a backup by the daemon whose log readers are gone', 30_000);
    expect(stored('model.bin')).toBe('weights');
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
