/**
 * The daemon beside the trainer at low priority (issue 15): every thread of the daemon's process at
 * nice 19 and IO best-effort 7, `priority: normal` applied by a live edit, a daemon that may not
 * raise its priority back saying so in its log and in `status`, and `ckptd run` starting the trainer
 * at the priority it was itself given (then following a live edit of `priority` itself).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** The nice value of every thread of `pid` (field 19 of `/proc/<pid>/task/<tid>/stat`). */
function threadNices(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const text = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const ionice = (pid: number): string => execFileSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).trim();

function setup(extra = ''): { dir: string; cfg: string; run: string } {
  const t = tempDir('ckptd-priority-');
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  // Big enough to be hashed on worker threads, which must inherit the low priority.
  fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(24 << 20, 3));
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {format: json}\nruns:\n  - {name: r, path: ./run, settle: 200ms, progress: none, backup: {every: always}, retention: {min_free: 1MB}${extra}}\n`);
  return { dir: t.dir, cfg, run };
}

function daemon(args: string[], wrap: string[] = []): DaemonHandle {
  const d = startDaemon(args, {}, wrap);
  cleanups.push(() => d.stop());
  return d;
}

interface Status {
  daemon: { running: boolean; priority: { nice: number | null; io: string | null } | null };
  warnings: string[];
}

async function status(cfg: string): Promise<Status> {
  const r = await runCli(['status', '--config', cfg, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Status[])[0]!;
}

describe('priority', () => {
  it('runs every thread at nice 19 and IO best-effort 7 by default; a live edit to normal puts them back', async () => {
    const { cfg } = setup();
    const d = daemon(['daemon', '--config', cfg]);
    await d.waitFor((l) => l.event === 'priority' && l.priority === 'low', 30_000, 'priority low');
    await d.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');
    const pid = d.proc.pid!;
    // The worker threads started for the backup took the main thread's priority.
    expect(threadNices(pid).length).toBeGreaterThan(1);
    expect(new Set(threadNices(pid))).toEqual(new Set([19]));
    expect(ionice(pid)).toBe('best-effort: prio 7');
    const low = await status(cfg);
    expect(low.daemon.priority).toEqual({ nice: 19, io: 'best-effort: prio 7' });
    expect(low.warnings.join('\n')).not.toMatch(/nice/);

    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('progress: none', 'progress: none, priority: normal'));
    await d.waitFor((l) => l.event === 'priority' && l.priority === 'normal', 30_000, 'priority normal');
    expect(new Set(threadNices(pid))).toEqual(new Set([0]));
    expect(ionice(pid)).toMatch(/^none/);
    expect((await status(cfg)).daemon.priority?.nice).toBe(0);
  });

  it('a daemon without CAP_SYS_NICE cannot return to normal: its log and status say so, and it keeps working', async () => {
    const { cfg } = setup();
    const d = daemon(['daemon', '--config', cfg], ['setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--']);
    await d.waitFor((l) => l.event === 'priority' && l.priority === 'low', 30_000, 'priority low');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('progress: none', 'progress: none, priority: normal'));
    const problem = await d.waitFor((l) => l.event === 'priority-problem', 30_000, 'the priority problem');
    expect(problem.message).toMatch(/could not return to CPU priority normal.*CAP_SYS_NICE.*restart the daemon/);
    expect(new Set(threadNices(d.proc.pid!))).toEqual(new Set([19]));
    const s = await status(cfg);
    expect(s.daemon.running).toBe(true);
    expect(s.warnings.join('\n')).toMatch(/still runs at nice 19 though priority: normal asks for 0.*restart it/);
  });

  it('a SIGTERM while the runs are still starting stops the daemon cleanly (exit 0), not midway', async () => {
    const { cfg, run } = setup();
    // Enough files that starting the run (its first scan) takes a while after the priority is set.
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(run, `f${i}.txt`), String(i));
    const d = daemon(['daemon', '--config', cfg]);
    await d.waitFor((l) => l.event === 'priority', 30_000, 'priority low');
    d.proc.kill('SIGTERM');
    const code = d.proc.exitCode ?? (await new Promise<number | null>((r) => d.proc.once('exit', r)));
    expect(code, d.output()).toBe(0);
    expect(d.lines.some((l) => l.event === 'daemon-stopped')).toBe(true);
  });

  it('`ckptd run` starts the trainer at its own priority, then steps back itself', async () => {
    const { dir, cfg } = setup();
    const go = path.join(dir, 'go');
    // The trainer records its own nice value, waits until the test saw ckptd lower itself, then
    // records its parent's (ckptd's).
    const script = `cut -d' ' -f19 /proc/$$/stat > ${dir}/trainer-nice; while [ ! -e ${go} ]; do sleep 0.05; done; cut -d' ' -f19 /proc/$PPID/stat > ${dir}/ckptd-nice`;
    const d = daemon(['run', '--config', cfg, '--', 'sh', '-c', script]);
    await waitUntil(() => /"event":"priority"/.test(d.output()), 'ckptd run to set its priority', 30_000);
    fs.writeFileSync(go, '');
    const code = d.proc.exitCode ?? (await new Promise<number | null>((r) => d.proc.once('exit', r)));
    expect(code, d.output()).toBe(0);
    // The trainer runs at the priority ckptd was started with, as it would without ckptd.
    expect(fs.readFileSync(path.join(dir, 'trainer-nice'), 'utf8').trim()).toBe(String(threadNices(process.pid)[0]));
    expect(fs.readFileSync(path.join(dir, 'ckptd-nice'), 'utf8').trim()).toBe('19');
  });

  it('`ckptd run` applies a live edit of `priority` to itself once the trainer runs', async () => {
    const { dir, cfg } = setup();
    const go = path.join(dir, 'go');
    const script = `while [ ! -e ${go} ]; do sleep 0.05; done; cut -d' ' -f19 /proc/$PPID/stat > ${dir}/ckptd-nice`;
    const d = daemon(['run', '--config', cfg, '--', 'sh', '-c', script]);
    await waitUntil(() => /"priority":"low"/.test(d.output()), 'ckptd run to step back', 30_000);
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('progress: none', 'progress: none, priority: normal'));
    await waitUntil(() => /"priority":"normal"/.test(d.output()), 'the edit to normal to apply', 30_000);
    fs.writeFileSync(go, '');
    const code = d.proc.exitCode ?? (await new Promise<number | null>((r) => d.proc.once('exit', r)));
    expect(code, d.output()).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'ckptd-nice'), 'utf8').trim()).toBe(String(threadNices(process.pid)[0]));
  });
});
