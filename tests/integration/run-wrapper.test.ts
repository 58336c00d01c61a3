/**
 * `ckptd run -- sh -c '<trainer>; true'`: CMD is a wrapper that runs the trainer as its child (no
 * `exec`). A signal sent to ckptd reaches the trainer too, once, and ckptd waits for it; a trainer
 * that outlives its wrapper is still watched, and a signal to ckptd still reaches it. Real
 * processes: the built CLI, `sh`, and the node trainer of `run-process.ts`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/daemon-process.js';
import { startRun, trainerFolders, trainerStart, waitForFile, type RunHandle } from '../helpers/run-process.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
};

const killQuietly = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
};

/** A run folder and config in a temp folder, and `ckptd run -- sh -c '<node trainer --trap --label LABEL>; true'` for it. */
function wrapped(label: string): { args: string[]; env: NodeJS.ProcessEnv; out: string; store: string } {
  const t = trainerFolders('ckptd-run-wrapper-');
  cleanups.push(t.cleanup);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, 'log: {format: json, level: debug}\nruns:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: 1 changes, delete_on_finish: true}\n');
  // `; true`: the shell must wait for the trainer, not exec it.
  const script = `'${process.execPath}' '${t.trainer}' --trap --label ${label}; true`;
  return { args: ['run', '--config', cfg, '--', 'sh', '-c', script], env: t.env, out: t.out, store: path.join(t.dir, '.ckptd', 'r') };
}

/** `wrapped(label)` started in a session of its own (no terminal). */
function startWrapped(label: string): { h: RunHandle; out: string; store: string } {
  const w = wrapped(label);
  const h = startRun(w.args, w.env);
  cleanups.push(() => killQuietly(h.proc.pid!));
  return { h, out: w.out, store: w.store };
}

/**
 * `ckptd run -- sh -c SCRIPT` on a run whose progress is `state.json`'s epoch and step, with
 * `backup` as its backup policy; `script` gets the trainer's command line and a file to wait for.
 */
function startScript(backup: string, script: (node: string, go: string) => string): { t: ReturnType<typeof trainerFolders>; h: RunHandle; go: string } {
  const t = trainerFolders('ckptd-run-wrapper-');
  cleanups.push(t.cleanup);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - name: r\n    path: ./run\n    settle: 200ms\n    progress: {file: state.json, epoch: epoch, step: step}\n    backup: ${backup}\n`);
  const go = path.join(t.out, 'go');
  const h = startRun(['run', '--config', cfg, '--', 'sh', '-c', script(`'${process.execPath}' '${t.trainer}'`, go)], t.env);
  cleanups.push(() => killQuietly(h.proc.pid!));
  // A test that failed before writing it would leave the script waiting for it.
  cleanups.push(() => fs.existsSync(t.out) && fs.writeFileSync(go, ''));
  return { t, h, go };
}

/** Waits for the trainer to be ready; returns its pid, killed at cleanup if still there. */
async function trainerReady(out: string, label: string): Promise<number> {
  await waitForFile(path.join(out, `${label}.ready`));
  const pid = trainerStart(out, label).pid;
  cleanups.push(() => killQuietly(pid));
  return pid;
}

const session = (store: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(store, 'session.json'), 'utf8')) as Record<string, unknown>;
const signalsSeen = (out: string, label: string): unknown => JSON.parse(fs.readFileSync(path.join(out, `${label}.signals.json`), 'utf8'));

/** After ckptd ended: the trainer got `signal` once and is gone, and the session says how CMD ended and what stopped it. */
function expectStopped(w: { out: string; store: string }, label: string, trainer: number, signal: string, ended: Record<string, unknown>): void {
  expect(signalsSeen(w.out, label)).toEqual([signal]);
  expect(alive(trainer)).toBe(false);
  expect(session(w.store)).toMatchObject({ finished: false, stopped_by: signal, ...ended });
}

describe.runIf(fs.existsSync('/proc/self/stat'))('ckptd run with a wrapper as CMD', () => {
  it('passes a SIGTERM on to the trainer the wrapper runs, once, and ends only after the trainer did', async () => {
    const { h, out, store } = startWrapped('w');
    const trainer = await trainerReady(out, 'w');
    await waitForFile(path.join(store, 'session.json'));
    h.proc.kill('SIGTERM');
    const { code } = await h.exited;
    // The shell died of the SIGTERM: ckptd's exit code is CMD's, 128 + 15.
    expect(code, h.stderr()).toBe(143);
    expectStopped({ out, store }, 'w', trainer, 'SIGTERM', { signal: 'SIGTERM' });
  });

  it('keeps watching a trainer its wrapper left running, and passes a later signal on to it', async () => {
    const { h, out, store } = startWrapped('k');
    const trainer = await trainerReady(out, 'k');
    const shell = Number(session(store).trainer_pid);
    // ckptd notes the processes CMD started as they come; the wrapper may die before any signal.
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-processes' && (l.pids as number[]).includes(trainer)), 'ckptd to see the trainer', 30_000);
    process.kill(shell, 'SIGKILL');
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-outlived'), 'ckptd to say the trainer outlived its wrapper', 30_000);
    expect(h.proc.exitCode).toBeNull();
    expect(alive(trainer)).toBe(true);

    h.proc.kill('SIGHUP');
    const { code } = await h.exited;
    expect(code, h.stderr()).toBe(137);
    expectStopped({ out, store }, 'k', trainer, 'SIGHUP', { signal: 'SIGKILL' });
  });

  it('ends when a wrapper that exited on its own left a helper in the background, and leaves the helper alone', async () => {
    // `tensorboard --logdir . & python train.py`: the helper is meant to outlive the training.
    const { t, h, go } = startScript('{every: 1 epochs}', (node, go) => `${node} --trap --label bg & while [ ! -e '${go}' ]; do sleep 0.05; done; ${node} --epochs 2 --label t`);
    const helper = await trainerReady(t.out, 'bg');
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-processes' && (l.pids as number[]).includes(helper)), 'ckptd to see the helper', 30_000);
    fs.writeFileSync(go, '');
    const ended = await Promise.race([h.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
    expect(ended, `ckptd still waits for the helper the wrapper left: ${h.stderr()}`).not.toBeNull();
    expect(ended!.code, h.stderr()).toBe(0);
    expect(session(path.join(t.dir, '.ckptd', 'r'))).toMatchObject({ finished: true });
    expect(alive(helper)).toBe(true);
    expect(fs.existsSync(path.join(t.out, 'bg.signals.json'))).toBe(false);
    expect(h.lines().some((l) => l.event === 'trainer-left-running' && (l.pids as number[]).includes(helper))).toBe(true);
  });

  it('keeps the backups (delete_on_finish) when a wrapper that exited 0 left a process running: it may be the training', async () => {
    // `python train.py & ...; exit 0`: the wrapper backgrounds the training and ends.
    const { t, h, go } = startScript('{every: 1 epochs, delete_on_finish: true}', (node, go) => `${node} --epochs 2 --wait-backups --label t; ${node} --trap --label bg & while [ ! -e '${go}' ]; do sleep 0.05; done`);
    const bg = await trainerReady(t.out, 'bg');
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-processes' && (l.pids as number[]).includes(bg)), 'ckptd to see the backgrounded process', 30_000);
    fs.writeFileSync(go, '');
    const ended = await h.exited;
    expect(ended.code, h.stderr()).toBe(0);
    const store = path.join(t.dir, '.ckptd', 'r');
    const metas = fs.readdirSync(path.join(store, 'snapshots')).map((id) => JSON.parse(fs.readFileSync(path.join(store, 'snapshots', id, 'snapshot.json'), 'utf8')) as { kind: string; epoch: number });
    expect(metas.filter((m) => m.kind === 'backup').map((m) => m.epoch).sort(), h.stderr()).toEqual([1, 2]);
    const skipped = h.lines().find((l) => l.event === 'delete-on-finish-skipped');
    expect(skipped?.message, h.stderr()).toContain(`pid ${bg}`);
    expect(alive(bg)).toBe(true);
    expect(fs.existsSync(path.join(t.out, 'bg.signals.json'))).toBe(false);
  });

  it("passes a SIGTERM on to the trainer only, not to its own workers (a data loader's workers die while it checkpoints)", async () => {
    const t = trainerFolders('ckptd-run-wrapper-');
    cleanups.push(t.cleanup);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'log: {format: json, level: debug}\nruns:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: 1 epochs}\n');
    // The worker records any signal it gets; the trainer, on SIGTERM, "checkpoints" for 600 ms
    // (while a SIGTERM sent to the worker directly would land), then ends the worker and exits 0.
    const trainer = path.join(t.dir, 'leader.mjs');
    fs.writeFileSync(
      trainer,
      `import { spawn } from 'node:child_process';
import fs from 'node:fs';
const out = process.env.TRAINER_OUT;
const worker = spawn(process.execPath, ['-e', \`
  const fs = require('node:fs');
  process.on('SIGTERM', () => fs.writeFileSync(process.argv[1] + '/worker.signals', 'SIGTERM'));
  fs.writeFileSync(process.argv[1] + '/worker.ready', String(process.pid));
  setInterval(() => {}, 1000);
\`, out], { stdio: 'ignore' });
process.on('SIGTERM', () => {
  fs.writeFileSync(out + '/leader.signals', 'SIGTERM');
  setTimeout(() => { worker.kill('SIGKILL'); process.exit(0); }, 600);
});
setInterval(() => {}, 1000);
`,
    );
    const h = startRun(['run', '--config', cfg, '--', process.execPath, trainer], t.env);
    cleanups.push(() => killQuietly(h.proc.pid!));
    await waitForFile(path.join(t.out, 'worker.ready'));
    const worker = Number(fs.readFileSync(path.join(t.out, 'worker.ready'), 'utf8'));
    cleanups.push(() => killQuietly(worker));
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-processes' && (l.pids as number[]).includes(worker)), 'ckptd to see the worker', 30_000);
    h.proc.kill('SIGTERM');
    const { code } = await h.exited;
    expect(code, h.stderr()).toBe(0);
    expect(fs.readFileSync(path.join(t.out, 'leader.signals'), 'utf8')).toBe('SIGTERM');
    expect(fs.existsSync(path.join(t.out, 'worker.signals'))).toBe(false);
  });

  it('does not pass a Ctrl-C typed in the terminal on to the trainer the wrapper runs: it got it already', async () => {
    const w = wrapped('c');
    // `script` gives ckptd a terminal; \x03 there makes the kernel send SIGINT to the foreground process group.
    const command = 'exec ' + [process.execPath, CLI, ...w.args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
    const p = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...w.env, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => killQuietly(p.pid!));
    let output = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    const exited = new Promise<void>((resolve) => p.on('exit', () => resolve()));
    const trainer = await trainerReady(w.out, 'c');
    await waitForFile(path.join(w.store, 'session.json'));
    p.stdin.write('\x03');
    await exited;
    expect(output).toMatch(/SIGINT received: not passed on/);
    expectStopped(w, 'c', trainer, 'SIGINT', {});
  });
});
