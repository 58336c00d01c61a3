/**
 * One writer per store, under load: while a daemon backs up a trainer's states, a second daemon on
 * the same store refuses to start (exit 3) and names the first (pid, host, since) without touching
 * the store, and `ckptd snapshot` goes through the running daemon instead of writing beside it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { startTrainer, trainerSnapshotProblems } from '../helpers/fault-trainer.js';
import { leftovers, snapshotFolders, verifyStore } from '../helpers/store-oracle.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('two writers on one store', () => {
  it('a second daemon exits 3 naming the first; `ckptd snapshot` goes through the running daemon', async () => {
    const t = tempDir('ckptd-fault-two-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const store = path.join(t.dir, 'store');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    store: ${store}
    settle: 150ms
    progress: none
    backup: {every: always, keep: 3}
    retention: {min_free: 1MB}
`,
    );
    // A new 5 MB state every 800 ms keeps the daemon (at low priority) busy all along. At 300 ms a
    // busy machine left it no window to copy a state whole: captures retried for seconds and often
    // stored no file, so the test waited long and checked empty snapshots.
    const trainer = startTrainer(runDir, 800);
    cleanups.push(() => trainer.stop());
    await trainer.waitFor(1);
    const startedAt = Date.now();
    const first = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => first.stop());
    await first.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');

    // The second daemon, and a zero-config `watch` of the same folder into the same store.
    for (const args of [
      ['daemon', '--config', cfg],
      ['watch', runDir, '--store', store, '--log-format', 'json'],
    ]) {
      const second = await runCli(args);
      const out = second.stdout + second.stderr;
      expect(second.code, out).toBe(3);
      expect(out).toContain(`pid ${first.proc.pid}`);
      expect(out).toContain(`on host ${os.hostname()}`);
      const since = /since (\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(out)?.[1] ?? '';
      expect(Date.parse(since), `"since" in: ${out}`).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(Date.parse(since)).toBeLessThanOrEqual(Date.now());
      expect(out).not.toMatch(/removed an unfinished snapshot/);
    }

    // Manual snapshots while the daemon works: two at once, both through the daemon.
    const [a, b] = await Promise.all([
      runCli(['snapshot', '--config', cfg, '--json', '--name', 'first look']),
      runCli(['snapshot', '--config', cfg, '--json', '--name', 'second look', '--pin']),
    ]);
    for (const r of [a, b]) expect(r.code, r.stderr).toBe(0);
    const ta = JSON.parse(a.stdout) as { id: string; via_daemon: boolean };
    const tb = JSON.parse(b.stdout) as { id: string; via_daemon: boolean };
    expect([ta.via_daemon, tb.via_daemon]).toEqual([true, true]);
    expect(ta.id).not.toBe(tb.id);

    // The first daemon kept the store and kept working.
    const seen = first.lines.length;
    await first.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup' && first.lines.indexOf(l) >= seen, 30_000, 'a backup after the refusals');
    await trainer.stop();
    expect(first.proc.exitCode).toBe(null);
    expect(await first.stop()).toBe(0);

    const report = verifyStore(store);
    expect([...report.incomplete, ...report.problems]).toEqual([]);
    const torn = report.snapshots.flatMap((s) => trainerSnapshotProblems(path.join(store, 'snapshots', s.id, 'files'), s.files.map((f) => f.path)));
    expect(torn).toEqual([]);
    expect(leftovers(store)).toEqual([]);
    const manual = report.snapshots.filter((s) => s.kind === 'manual');
    expect(manual.map((s) => [s.id, s.name, s.pinned]).sort()).toEqual(
      [
        [ta.id, 'first look', false],
        [tb.id, 'second look', true],
      ].sort(),
    );
    const listed = JSON.parse((await runCli(['list', '--config', cfg, '--json'])).stdout) as { id: string }[];
    expect(listed.map((l) => l.id).sort()).toEqual(snapshotFolders(store));
  });
});
