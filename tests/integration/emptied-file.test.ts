/**
 * A backed-up file truncated to 0 (logrotate's copytruncate; torch.save's truncating open before
 * its bytes come) is empty before any writer is seen. The capture leaves such a file out until it
 * has stayed empty 10 s (`EMPTIED_QUIET_MS`): the daemon must wait that long before it takes the
 * backup, the way it waits for a file still changing, so the backup holds it (empty) and is complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { scanState } from '../../src/store/scan.js';
import { writeSnapshot } from '../../src/store/write-snapshot.js';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Shown {
  created: string;
  files: { path: string; size: number }[];
  skipped: { path: string; reason: string }[];
}

/** A run holding model.bin and a 14-byte train.log, and its config (`top` before `runs:`, `extra` in the run). */
function runWithLog(top: string, extra: string): { dir: string; run: string; cfg: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(10_000, 1));
  fs.writeFileSync(path.join(run, 'train.log'), 'step 1\nstep 2\n');
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `${top}runs:\n  - name: train\n    path: ./run\n    settle: 200ms\n    progress: none\n${extra}    retention: {min_free: 1MB}\n`);
  return { dir: t.dir, run, cfg };
}

describe('a backed-up file truncated to 0', () => {
  it('is in the next backup, empty, and that backup is complete', async () => {
    const { run, cfg } = runWithLog('log: {format: json, level: debug}\n', '    backup: {every: always}\n');

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const first = await d.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');
    const held = JSON.parse((await runCli(['show', first.id as string, '--config', cfg, '--json'])).stdout) as Shown;
    expect(held.files.find((f) => f.path === 'train.log')?.size).toBe(14);

    fs.truncateSync(path.join(run, 'train.log'), 0);
    const next = await d.waitFor((l) => l.event === 'snapshot' && l.id !== first.id, 60_000, 'the backup after the truncation');
    const shown = JSON.parse((await runCli(['show', next.id as string, '--config', cfg, '--json'])).stdout) as Shown;
    expect(shown.skipped).toEqual([]);
    expect(shown.files.map((f) => [f.path, f.size]).sort()).toEqual([
      ['model.bin', 10_000],
      ['train.log', 0],
    ]);
    // Waited for as one truncation, not reported as a file that keeps changing.
    expect(d.lines.filter((l) => l.event === 'keeps-changing' || l.event === 'never-settles')).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('when only an incomplete snapshot held it with bytes, the daemon waits too: stored empty only once empty 10 s, the backup complete', async () => {
    const { dir, run, cfg } = runWithLog('log: {format: json, level: debug}\n', '    store: ./store\n    backup: {every: always}\n');
    // The store's only snapshot left train.log out (it never settled): there is no complete one.
    const entries = (await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [] })).filter((e) => e.path !== 'train.log');
    const store = path.join(dir, 'store');
    const only = await writeSnapshot({ store, runName: 'train', runDir: run, entries, kind: 'backup', trigger: 'test', progress: NO_PROGRESS, previous: null, now: Date.now(), settleMs: 0, neverSettled: [{ path: 'train.log', reason: 'never settled' }] });
    expect(only.files.map((f) => [f.path, f.size])).toEqual([['model.bin', 10_000]]);

    fs.truncateSync(path.join(run, 'model.bin'), 0);
    const emptiedAt = fs.statSync(path.join(run, 'model.bin')).mtimeMs;
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const next = await d.waitFor((l) => l.event === 'snapshot', 60_000, 'the backup after the truncation');
    const shown = JSON.parse((await runCli(['show', next.id as string, '--config', cfg, '--json'])).stdout) as Shown;
    expect(shown.skipped).toEqual([]);
    expect(shown.files.map((f) => [f.path, f.size]).sort()).toEqual([
      ['model.bin', 0],
      ['train.log', 14],
    ]);
    // The rule, not a measure of speed: an emptied file is taken only once it has been empty 10 s.
    expect(Date.parse(shown.created) - emptiedAt).toBeGreaterThanOrEqual(10_000);
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('without a daemon, `ckptd snapshot` waits for it too: the snapshot holds it, empty, and is complete', async () => {
    const { run, cfg } = runWithLog('', '');
    const first = await runCli(['snapshot', '--config', cfg]);
    expect(first.code, first.stderr).toBe(0);

    fs.truncateSync(path.join(run, 'train.log'), 0);
    const r = await runCli(['snapshot', '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse((await runCli(['show', r.stdout.trim(), '--config', cfg, '--json'])).stdout) as Shown;
    expect(shown.skipped).toEqual([]);
    expect(shown.files.map((f) => [f.path, f.size]).sort()).toEqual([
      ['model.bin', 10_000],
      ['train.log', 0],
    ]);
  }, 90_000);
});
