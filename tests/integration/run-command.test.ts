/**
 * `ckptd run [--resume] -- CMD` with real processes (SPEC section 7): a trainer killed mid-run is
 * resumed from the newest backup, with CKPTD_RESTORED_ID/EPOCH/STEP in its environment; the final
 * state of a trainer that exits 0 is evaluated before ckptd stops; delete_on_finish removes only
 * policy backups; CMD's exit code is ckptd's; signals reach CMD exactly once; a kill -9 of ckptd is
 * detected as an interruption, and its orphaned trainer blocks a second start; a run started while
 * the previous one wraps up reads it as finished and keeps its own record and backups.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, tempDir } from '../helpers/daemon-process.js';
import { pauseEnv, pausedAt } from '../helpers/pause-at.js';
import { runToEnd, startRun, trainerFolders, trainerStart, waitForFile } from '../helpers/run-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

interface Rec {
  id: string;
  kind: string;
  name: string | null;
  pinned: boolean;
  epoch: number | null;
  /** In `show --json` only. */
  files: { path: string; sha256: string }[];
}

interface Setup {
  cfg: string;
  run: string;
  out: string;
  store: string;
  trainer: string;
  env: NodeJS.ProcessEnv;
}

/** A run and its trainer in a fresh temp folder, removed by `cleanup`. */
function setup(cleanup: (c: () => unknown) => void): Setup {
  const t = trainerFolders('ckptd-run-');
  cleanup(t.cleanup);
  const { run, out, trainer } = t;
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `log: {format: json, level: debug}
runs:
  - name: r
    path: ./run
    settle: 200ms
    progress: {file: state.json, epoch: epoch, step: step}
    backup: {every: 1 epochs, keep: 10, delete_on_finish: true}
    save: {every: 5 epochs, files: ["model.bin"]}
    retention: {min_free: 1MB}
`,
  );
  return { cfg, run, out, store: path.join(t.dir, '.ckptd', 'r'), trainer, env: t.env };
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const session = (s: Setup): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(s.store, 'session.json'), 'utf8')) as Record<string, unknown>;

async function list(s: Setup): Promise<Rec[]> {
  const r = await runCli(['list', '--json', '--config', s.cfg]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Rec[];
}

/** A settled state of epoch `epoch` in the run, and a policy backup of it taken without a daemon. */
async function stateWithBackup(s: Setup, epoch: number): Promise<string> {
  fs.writeFileSync(path.join(s.run, 'model.bin'), `weights of epoch ${epoch}\n`.repeat(500));
  fs.writeFileSync(path.join(s.run, 'state.json'), JSON.stringify({ epoch, step: epoch * 100 }));
  const old = new Date(Date.now() - 60_000);
  for (const f of ['model.bin', 'state.json']) fs.utimesSync(path.join(s.run, f), old, old);
  const r = await runCli(['backup-now', '--config', s.cfg]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

// Each test has its own folders and processes, and most of its time is spent waiting on them: the
// tests run concurrently.
describe.concurrent('ckptd run', () => {
  it('resumes a killed trainer from its newest backup, and a clean finish deletes only the policy backups', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    const runArgs = (...rest: string[]): string[] => ['run', '--config', s.cfg, ...rest];

    // 1. The trainer is killed (SIGKILL) while writing epoch 4: ckptd exits 128+9, the run is interrupted.
    const a = await runToEnd(runArgs('--', process.execPath, s.trainer, '--epochs', '5', '--crash-at', '4', '--crash-how', 'kill', '--wait-backups', '--label', 'a'), s.env);
    expect(a.code, a.stderr).toBe(137);
    expect(session(s)).toMatchObject({ finished: false, signal: 'SIGKILL', exit_code: null, trainer_pid: trainerStart(s.out, 'a').pid });
    const backups = (await list(s)).filter((r) => r.kind === 'backup');
    expect(backups.map((b) => b.epoch)).toEqual([3, 2, 1]);
    const e3 = backups[0]!;
    const e3Files = Object.fromEntries((JSON.parse((await runCli(['show', e3.id, '--json', '--config', s.cfg])).stdout) as Rec).files.map((f) => [f.path, f.sha256]));
    expect(trainerStart(s.out, 'a').env).toEqual({ CKPTD_RUN: 'r', CKPTD_STORE: s.store, CKPTD_CONFIG: s.cfg });
    expect(fs.readFileSync(path.join(s.run, 'model.bin'), 'utf8')).toBe('torn half-written model');

    // 2. Without --resume: a hint naming the backup, the run left as it is, CMD's exit code passed through.
    const b = await runToEnd(runArgs('--', process.execPath, s.trainer, '--epochs', '0', '--exit', '7', '--label', 'b'), s.env);
    expect(b.code, b.stderr).toBe(7);
    expect(b.stderr).toContain('killed by SIGKILL');
    expect(b.stderr).toContain(`\`ckptd run --resume\` would first restore backup ${e3.id}`);
    expect(trainerStart(s.out, 'b').env.CKPTD_RESTORED_ID).toBeUndefined();
    expect(fs.readFileSync(path.join(s.run, 'model.bin'), 'utf8')).toBe('torn half-written model');
    expect(session(s)).toMatchObject({ finished: false, exit_code: 7 });

    // A manual snapshot and a pinned backup, which delete_on_finish must leave alone.
    const manual = await runCli(['snapshot', '--name', 'keep-me', '--config', s.cfg]);
    expect(manual.code, manual.stderr).toBe(0);
    const e1 = backups[2]!;
    expect((await runCli(['pin', e1.id, '--config', s.cfg])).code).toBe(0);

    // 3. --resume restores epoch 3 (the trainer sees exactly its files), then trains epochs 4 and 5 and exits 0.
    const c = await runToEnd(runArgs('--resume', '--', process.execPath, s.trainer, '--epochs', '5', '--wait-backups', '--label', 'c', '--lr', '1e-4'), s.env);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(`restoring backup ${e3.id}`);
    const seen = trainerStart(s.out, 'c');
    expect(seen.env).toEqual({ CKPTD_RUN: 'r', CKPTD_STORE: s.store, CKPTD_CONFIG: s.cfg, CKPTD_RESTORED_ID: e3.id, CKPTD_EPOCH: '3', CKPTD_STEP: '300' });
    expect(seen.files).toEqual(e3Files);
    expect(seen.argv).toEqual(['--epochs', '5', '--wait-backups', '--label', 'c', '--lr', '1e-4']);
    // The final epoch, written just before the exit, was evaluated before ckptd stopped: backup, then save.
    const finalBackup = c.lines.find((l) => l.event === 'snapshot' && l.kind === 'backup' && l.epoch === 5);
    expect(finalBackup, c.stderr).toBeDefined();
    // ckptd logs to stderr: the trainer's stdout stays its own.
    expect(c.stdout).toBe('trainer c up\n');
    const deleted = c.lines.filter((l) => l.event === 'delete').map((l) => l.id);
    expect(deleted).toContain(finalBackup!.id);
    expect(deleted).toContain(e3.id);

    const after = await list(s);
    expect(after.filter((r) => r.kind === 'backup').map((r) => r.id)).toEqual([e1.id]);
    expect(after.find((r) => r.kind === 'manual')?.name).toBe('keep-me');
    expect(after.filter((r) => r.kind === 'pre-restore')).toHaveLength(1);
    expect(after.find((r) => r.kind === 'save')?.epoch).toBe(5);
    expect(session(s)).toMatchObject({ finished: true, exit_code: 0, restored_id: e3.id, stopped_by: null });
    expect(sha(path.join(s.run, 'model.bin'))).toBe(createHash('sha256').update('model after epoch 5\n'.repeat(2000)).digest('hex'));
  });

  // SIGHUP too: a hung-up terminal or a `kill -HUP` stops a trainer that checkpoints and exits 0 on it, mid-training.
  it.for(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('passes %s on to the trainer once; a stopped run is interrupted, so its backups stay', async (sig, { onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    const backup = await stateWithBackup(s, 2);
    const h = startRun(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--trap', '--label', 't'], s.env);
    cleanup(() => void h.proc.kill('SIGKILL'));
    await waitForFile(path.join(s.out, 't.ready'));
    h.proc.kill(sig);
    const { code } = await h.exited;
    expect(code, h.stderr()).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(s.out, 't.signals.json'), 'utf8'))).toEqual([sig]);
    expect(h.stderr()).toContain('--resume: nothing to resume');
    expect(session(s)).toMatchObject({ finished: false, exit_code: 0, stopped_by: sig });
    expect((await list(s)).map((r) => r.id)).toContain(backup);

    // What a resume makes of it follows from the session checked above (not finished, stopped_by),
    // whichever the signal (describeInterruption names it): shown once, after SIGTERM.
    if (sig !== 'SIGTERM') return;
    // Resuming a run that still holds the backup's files restores nothing (no pre-restore snapshot) but says which state it is.
    const again = await runToEnd(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '0', '--exit', '1', '--label', 't2'], s.env);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toContain(`was stopped by ${sig}`);
    expect(again.stderr).toContain(`already holds the files of backup ${backup}`);
    expect(trainerStart(s.out, 't2').env).toMatchObject({ CKPTD_RESTORED_ID: backup, CKPTD_EPOCH: '2', CKPTD_STEP: '200' });
    expect((await list(s)).filter((r) => r.kind === 'pre-restore')).toEqual([]);
  });

  it('--resume skips a newest backup found damaged: marks it, restores the one before, says so', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    const e2 = await stateWithBackup(s, 2);
    const e3 = await stateWithBackup(s, 3);
    // An interrupted session on that state (backups taken after it ended would not count): the
    // trainer exited with 1 before finishing.
    const crashed = await runToEnd(['run', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '0', '--exit', '1', '--label', 'd0'], s.env);
    expect(crashed.code, crashed.stderr).toBe(1);
    // The newest backup's model rots on disk (same size, other bytes), and the run moved on since.
    const rotten = path.join(s.store, 'snapshots', e3, 'files', 'model.bin');
    const size = fs.statSync(rotten).size;
    fs.chmodSync(rotten, 0o644);
    fs.writeFileSync(rotten, Buffer.alloc(size, 0x78));
    fs.chmodSync(rotten, 0o444);
    fs.writeFileSync(path.join(s.run, 'model.bin'), 'half-written weights of epoch 4');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(s.run, 'model.bin'), old, old);

    const r = await runToEnd(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '0', '--exit', '1', '--label', 'd1'], s.env);

    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`backup ${e3} is damaged (0 missing, 1 changed file(s)); marked it and trying the next newest`);
    expect(trainerStart(s.out, 'd1').env).toMatchObject({ CKPTD_RESTORED_ID: e2, CKPTD_EPOCH: '2', CKPTD_STEP: '200' });
    expect(fs.readFileSync(path.join(s.run, 'model.bin'), 'utf8')).toBe('weights of epoch 2\n'.repeat(500));
    const damaged = JSON.parse((await runCli(['show', e3, '--json', '--config', s.cfg])).stdout) as { damaged?: boolean };
    expect(damaged.damaged).toBe(true);
  });

  it('does not pass on a Ctrl-C typed in the terminal: the trainer got it already', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    // `script` gives ckptd a real terminal; \x03 there makes the kernel send SIGINT to the foreground process group.
    // `exec`: without it a shell that forks (dash, the /bin/sh `script` uses when SHELL is unset) stays in the
    // foreground group and dies of the Ctrl-C itself, which `script -e` reports as 130.
    const command = 'exec ' + [process.execPath, CLI, 'run', '--config', s.cfg, '--', process.execPath, s.trainer, '--trap', '--label', 'p'].map((a) => `'${a}'`).join(' ');
    const p = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...s.env, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'pipe'] });
    cleanup(() => void p.kill('SIGKILL'));
    let output = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    await waitForFile(path.join(s.out, 'p.ready'));
    p.stdin.write('\x03');
    expect(await exited, output).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(s.out, 'p.signals.json'), 'utf8'))).toEqual(['SIGINT']);
    // Not passed on: the trainer got the terminal's SIGINT already. When ckptd reads its own SIGINT after
    // the trainer has exited (its 400 ms are up first under load), there is no one left to pass it to.
    expect(output).toMatch(/SIGINT received: (not passed on|no process of the trainer is left)/);
    expect(output).not.toMatch(/passed on to the trainer/);
    expect(session(s)).toMatchObject({ finished: false, stopped_by: 'SIGINT' });
  });

  it('after a kill -9 of ckptd, refuses to start beside the orphaned trainer, then resumes once it is gone', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    const backup = await stateWithBackup(s, 4);
    const h = startRun(['run', '--config', s.cfg, '--', process.execPath, s.trainer, '--trap', '--label', 'k'], s.env);
    cleanup(() => void h.proc.kill('SIGKILL'));
    await waitForFile(path.join(s.out, 'k.ready'));
    // ckptd records the session once the trainer runs; under load the trainer can be ready before
    // that record is on disk, and a kill before it is the window the record cannot cover.
    await waitForFile(path.join(s.store, 'session.json'));
    const orphan = trainerStart(s.out, 'k').pid;
    cleanup(() => {
      try {
        process.kill(orphan, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    h.proc.kill('SIGKILL');
    await h.exited;
    expect(session(s)).toMatchObject({ finished: false, ended: null, trainer_pid: orphan });

    const refused = await runToEnd(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '0', '--label', 'k2'], s.env);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`still running (pid ${orphan}`);
    expect(fs.existsSync(path.join(s.out, 'k2.start.json'))).toBe(false);

    process.kill(orphan, 'SIGKILL');
    while (fs.existsSync(`/proc/${orphan}`)) await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(path.join(s.run, 'model.bin'), 'damaged by the crash');
    const resumed = await runToEnd(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '0', '--exit', '1', '--label', 'k3'], s.env);
    expect(resumed.code, resumed.stderr).toBe(1);
    expect(resumed.stderr).toContain('ckptd or the machine went down while the trainer ran');
    const seen = trainerStart(s.out, 'k3');
    expect(seen.env).toMatchObject({ CKPTD_RESTORED_ID: backup, CKPTD_EPOCH: '4', CKPTD_STEP: '400' });
    expect(seen.files['model.bin']).toBe(createHash('sha256').update('weights of epoch 4\n'.repeat(500)).digest('hex'));
  });

  it('a run started while the previous one wraps up sees it finished, and keeps its own record and backups from that wrap-up', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    fs.writeFileSync(s.cfg, fs.readFileSync(s.cfg, 'utf8').replace('every: 1 epochs', 'every: 4 epochs'));
    // A backup of the state before A; A trains epochs 1 to 3 (none backed up: every 4 epochs) and
    // exits 0. It is stopped right after its daemon let go of the store: its wrap-up is not done.
    await stateWithBackup(s, 0);
    const a = startRun(['run', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '3', '--label', 'a'], {
      ...s.env,
      ...pauseEnv({ op: 'rename', path: 'daemon\\.lock\\.gone-', nth: 2 }),
    });
    cleanup(() => void a.proc.kill('SIGKILL'));
    await pausedAt(a.proc, "the daemon's lock release");
    expect(fs.readFileSync(path.join(s.run, 'model.bin'), 'utf8')).toBe('model after epoch 3\n'.repeat(2000));

    // B, with --resume: A finished, so there is nothing to resume over its final state. B trains on,
    // is backed up at epoch 4 and crashes at 5: an interrupted session the next --resume needs.
    const b = await runToEnd(['run', '--resume', '--config', s.cfg, '--', process.execPath, s.trainer, '--epochs', '5', '--crash-at', '5', '--wait-backups', '--label', 'b'], s.env);
    expect(b.stderr).toContain('--resume: nothing to resume');
    expect(b.code, b.stderr).toBe(1);
    const e4 = (await list(s)).find((r) => r.kind === 'backup' && r.epoch === 4);
    expect(e4, b.stderr).toBeDefined();

    // A's wrap-up goes on: it neither records itself over B's session nor deletes B's backup.
    a.proc.kill('SIGCONT');
    expect((await a.exited).code, a.stderr()).toBe(0);
    expect(a.stderr()).toContain('another `ckptd run` of this run started since the trainer finished');
    expect(session(s)).toMatchObject({ finished: false, exit_code: 1, trainer_pid: trainerStart(s.out, 'b').pid });
    expect((await list(s)).map((r) => r.id)).toContain(e4!.id);
  });

  it('needs `--` before CMD, and exits 127 when CMD cannot be found', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const s = setup(cleanup);
    const noDash = await runCli(['run', '--config', s.cfg, process.execPath, s.trainer]);
    expect(noDash.code).toBe(2);
    expect(noDash.stderr).toContain('put `--` before');
    const missing = await runCli(['run', '--config', s.cfg, '--', path.join(path.dirname(s.cfg), 'no-such-trainer')]);
    expect(missing.code, missing.stderr).toBe(127);
    expect(missing.stderr).toMatch(/cannot start .*no-such-trainer/);
    expect(fs.existsSync(path.join(s.store, 'session.json'))).toBe(false);
  });
});
