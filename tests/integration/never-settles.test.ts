/**
 * Issue 11 item 5: a file that never stops changing (a log appended every 100 ms and held open, as
 * a logging.FileHandler does) must not block every backup silently. It is reported in the log and
 * in `status` with the `exclude` that fixes it, then left out so that backups happen, each marked
 * with it in `skipped`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A process that appends to `file` every 100 ms, holding it open for writing, until killed. */
function startLogger(file: string): () => void {
  const code = `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(file)},'a');let i=0;setInterval(()=>fs.writeSync(fd,'step '+(i++)+'\\n'),100);`;
  const p = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  return () => void p.kill('SIGKILL');
}

/**
 * A process that appends a line to `file` every 50 ms, opening and closing it each time (as
 * `echo >> train.log` in a shell loop does: no process holds it open between writes), until killed.
 */
function startAppender(file: string): () => void {
  const code = `const fs=require('fs');let i=0;setInterval(()=>fs.appendFileSync(${JSON.stringify(file)},'step '+(i++)+'\\n'),50);`;
  const p = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  return () => void p.kill('SIGKILL');
}

/** A run folder holding `model.bin` and a config for it with this `settle`, removed after the test. */
function runWithModel(settle: string): { run: string; cfg: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(10_000, 1));
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - name: train\n    path: ./run\n    settle: ${settle}\n    backup: {every: always}\n    retention: {min_free: 1MB}\n`);
  return { run, cfg };
}

describe('a file that never settles', () => {
  it('is reported and left out when it is written more often than settle, though nothing holds it open', async () => {
    const { run, cfg } = runWithModel('400ms');
    cleanups.push(startAppender(path.join(run, 'train.log')));
    // The look at start finds the log blocking; every write after it is a watcher event, which
    // must not put the next look off for as long as the writes go on (no look, no settle windows).
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());

    const warned = await d.waitFor((l) => l.event === 'keeps-changing', 60_000, 'the keeps-changing warning');
    expect(warned.message).toMatch(/train\.log has kept the state from settling .*exclude: \["train\.log"\]/);
    // Only a backup taken once the log was left out is the one looked for.
    const before = new Set(d.lines.filter((l) => l.event === 'snapshot').map((l) => l.id));
    await d.waitFor((l) => l.event === 'never-settles', 60_000, 'the log left out');
    const taken = await d.waitFor((l) => l.event === 'snapshot' && !before.has(l.id), 60_000, 'a backup without the log');
    const shown = JSON.parse((await runCli(['show', taken.id as string, '--config', cfg, '--json'])).stdout) as { files: { path: string }[]; skipped: { path: string }[] };
    expect(shown.files.map((f) => f.path)).toEqual(['model.bin']);
    expect(shown.skipped.map((f) => f.path)).toEqual(['train.log']);
  });

  it('is reported with its exclude, then left out of backups, which still happen', async () => {
    const { run, cfg } = runWithModel('100ms');
    const stopLogger = startLogger(path.join(run, 'train.log'));
    cleanups.push(stopLogger);

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const warned = await d.waitFor((l) => l.event === 'keeps-changing', 30_000, 'the keeps-changing warning');
    expect(warned.message).toMatch(/train\.log has kept the state from settling/);
    expect(warned.message).toMatch(/exclude: \["train\.log"\]/);

    const status = await runCli(['status', '--config', cfg, '--json']);
    const [s] = JSON.parse(status.stdout) as { warnings: string[] }[];
    expect(s!.warnings.join('\n')).toMatch(/train\.log has kept the state from settling .*exclude: \["train\.log"\]/);

    const taken = await d.waitFor((l) => l.event === 'snapshot', 30_000, 'a backup without the log');
    const list = await runCli(['list', '--config', cfg, '--json']);
    const snaps = JSON.parse(list.stdout) as { id: string; skipped: { path: string; reason: string }[]; files: unknown }[];
    const snap = snaps.find((x) => x.id === taken.id)!;
    expect(snap.skipped.map((x) => x.path)).toEqual(['train.log']);
    expect(snap.skipped[0]!.reason).toMatch(/never settled/);
    const shown = JSON.parse((await runCli(['show', taken.id as string, '--config', cfg, '--json'])).stdout) as { files: { path: string }[] };
    expect(shown.files.map((f) => f.path)).toEqual(['model.bin']);

    // The log stops: it settles, and the next backup holds it again.
    stopLogger();
    const back = await d.waitFor((l) => l.event === 'settled-again' && l.path === 'train.log', 30_000, 'the log settling again');
    expect(back.message).toMatch(/backed up again/);
    fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(10_000, 2));
    const next = await d.waitFor((l) => l.event === 'snapshot' && l.id !== taken.id, 30_000, 'a complete backup');
    const again = JSON.parse((await runCli(['show', next.id as string, '--config', cfg, '--json'])).stdout) as { files: { path: string }[]; skipped: unknown[] };
    expect(again.files.map((f) => f.path).sort()).toEqual(['model.bin', 'train.log']);
    expect(again.skipped).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});
