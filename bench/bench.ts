/**
 * `npm run bench [-- PART...]`: what ckptd costs, next to the tools people would use instead, in
 * one run on one machine. Parts (default: all, in this order):
 *
 *   series    a training state over generations: ckptd vs cp -a, rsync --link-dest, restic;
 *             bytes stored; restore (bench/series.ts)
 *   remote    the same state pushed to a local S3 server (s3rver) generation by generation:
 *             ckptd push vs rclone copy vs restic backup, seconds and bytes uploaded (bench/remote.ts)
 *   idle      the daemon watching 10 runs: idle CPU and memory, then change-to-snapshot latency
 *   startup   the daemon starting on a run of many small files: time, CPU, memory
 *   list      `ckptd list --json` of a store holding 1,000 snapshots
 *             (these three: bench/daemon-costs.ts)
 *   slowdown  a training loop on every core: its step times alone and beside a daemon backing up
 *             its 1.5 GB state, at priority low and normal (bench/slowdown.ts)
 *
 * Settings (environment): BENCH_DIR (where to work; default the OS temp folder: choose the disk
 * you care about), BENCH_GB (1.5), BENCH_GENERATIONS (4), BENCH_REPEAT (5), BENCH_RESTIC_REPEAT (2),
 * BENCH_IDLE_SECONDS (30), BENCH_IDLE_RUNS (10), BENCH_LATENCY_REPEAT (5), BENCH_SETTLE_MS (500),
 * BENCH_STARTUP_FILES (100000), BENCH_LIST_SNAPSHOTS (1000), BENCH_WARM_GB (0; see `syncAll` in
 * bench/lib.ts), BENCH_REMOTE_GB (0.5), BENCH_REMOTE_REPEAT (1), BENCH_KEEP=1 keeps the work
 * folder, BENCH_NO_INSTALL=1 never runs apt-get for a missing rsync, restic or rclone (they are
 * skipped with a message instead). docs/BENCHMARKS.md explains
 * the numbers and records a run.
 *
 *   BENCH_DIR=/mnt/data npm run bench
 *   npm run bench -- series
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runIdle, runList, runStartup } from './daemon-costs.js';
import { envNumber, loadAverage, machine, pageReporting, removeTree, reportedMiB, sha256Speed } from './lib.js';
import { heading, out, verdictLine, type Verdict } from './report.js';
import { runRemote } from './remote.js';
import { runSeries } from './series.js';
import { runSlowdown } from './slowdown.js';

const PARTS: Record<string, (base: string) => Promise<Verdict[]>> = {
  series: runSeries,
  remote: runRemote,
  idle: runIdle,
  startup: runStartup,
  list: runList,
  slowdown: runSlowdown,
};

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(a in PARTS));
if (unknown.length > 0) {
  process.stderr.write(`unknown part(s): ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}\n`);
  process.exit(2);
}
const parts = asked.length > 0 ? asked : Object.keys(PARTS);

const base = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'ckptd-bench-'));
const started = performance.now();
const verdicts: Verdict[] = [];
try {
  out(`ckptd bench, ${new Date().toISOString()}: ${parts.join(', ')}`);
  for (const line of machine(base)) out(line);
  const reporting = pageReporting();
  if (reporting) out(`${reporting} (a VM: copies into new page cache may fault memory back in from the host; see docs/BENCHMARKS.md)`);
  out(`sha256 on one core: ${(await sha256Speed()).toFixed(2)} GB/s (the floor for copying one large file: ckptd hashes every byte it copies)`);
  for (const part of parts) {
    process.stderr.write(`${part} ...\n`);
    const dir = path.join(base, part);
    fs.mkdirSync(dir);
    const load0 = loadAverage();
    const reported0 = reportedMiB();
    const t0 = performance.now();
    try {
      verdicts.push(...(await PARTS[part]!(dir)));
    } finally {
      if (process.env.BENCH_KEEP !== '1') removeTree(dir);
    }
    // Other work on the machine shows up here: this bench alone keeps the load near 1-2.
    const reported = reported0 === null ? '' : `; ${(((reportedMiB() ?? reported0) - reported0) / 1024).toFixed(1)} GiB of freed memory handed back to the host`;
    out(`[${part}: ${((performance.now() - t0) / 1000).toFixed(0)} s; load average (1 min) ${load0} before, ${loadAverage()} after${reported}]`);
  }
  heading('targets (issue 7; remote push: issue 13; slowdown: issue 15)');
  for (const v of verdicts) out(verdictLine(v));
  out();
  out(`bench took ${((performance.now() - started) / 1000 / 60).toFixed(1)} minutes (settings: BENCH_GB=${envNumber('BENCH_GB', 1.5)} BENCH_GENERATIONS=${envNumber('BENCH_GENERATIONS', 4)} BENCH_REPEAT=${envNumber('BENCH_REPEAT', 5)} BENCH_RESTIC_REPEAT=${envNumber('BENCH_RESTIC_REPEAT', 2)} BENCH_WARM_GB=${envNumber('BENCH_WARM_GB', 0)} BENCH_REMOTE_GB=${envNumber('BENCH_REMOTE_GB', 0.5)} BENCH_REMOTE_REPEAT=${envNumber('BENCH_REMOTE_REPEAT', 1)})`);
} finally {
  if (process.env.BENCH_KEEP === '1') process.stderr.write(`kept ${base}\n`);
  else removeTree(base);
}
