/**
 * What the daemon costs while it waits and reacts, measured on the real `ckptd daemon` process
 * (CPU from /proc/<pid>/stat utime+stime, memory from /proc/<pid>/status VmRSS and VmHWM):
 *
 * - idle: watching BENCH_IDLE_RUNS (10) runs for BENCH_IDLE_SECONDS (30) after their first backups;
 *   then the latency from a trainer's last write to the daemon's `snapshot` log line, minus the
 *   configured settle time (BENCH_SETTLE_MS, 500), BENCH_LATENCY_REPEAT (5) times;
 * - startup: a run of BENCH_STARTUP_FILES (100,000) small files: the first snapshot, then a restart
 *   with that snapshot in the store (time to watching, to the first evaluation, until the CPU is
 *   quiet; memory), then one changed file to its snapshot (every other file a hard link),
 *   BENCH_STARTUP_CHANGES (3) times, each with its peak RSS (VmHWM reset before it); judged against
 *   issue 15's targets (first snapshot within 1.5x of `cp -a` + sync, a one-file change under 1 s,
 *   peak RSS under 200 MB);
 * - list: `ckptd list --json` of a store with BENCH_LIST_SNAPSHOTS (1,000) snapshots.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../src/config/load.js';
import { listRecords } from '../src/client/list.js';
import { rescanIntervalMs } from '../src/daemon/run-triggers.js';
import { NO_PROGRESS, type Progress } from '../src/policy/types.js';
import { scanState, stateDigest } from '../src/store/scan.js';
import { writeSnapshot } from '../src/store/write-snapshot.js';
import type { SnapshotMeta } from '../src/store/types.js';
import { startDaemon, runCli, type Daemon } from './daemon.js';
import { cpuSeconds, envNumber, memory, note, seconds, sh, sleep, stats, syncAll, syncFs, writeRandom } from './lib.js';
import { bm, formatBytes, heading, list, ms, out, secs, table, type Verdict } from './report.js';

const SETTLE_MS = () => Math.round(envNumber('BENCH_SETTLE_MS', 500));

function runYaml(name: string, dir: string, store: string, extra = ''): string {
  return `  - {name: ${name}, path: ${JSON.stringify(dir)}, store: ${JSON.stringify(store)}, settle: ${SETTLE_MS()}ms, progress: hf, backup: {every: always}${extra}}`;
}

/** Context switches so far (voluntary + not): a proxy for wake-ups. */
function switches(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return [...status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

/** inotify watches a process holds (every inotify descriptor's entries in /proc/<pid>/fdinfo). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const target = (() => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })();
    if (!target.includes('inotify')) continue;
    n += (fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').match(/^inotify /gm) ?? []).length;
  }
  return n;
}

/** Resets a process's VmHWM to its current RSS (`/proc/<pid>/clear_refs`, 5: Linux 4.0+, same user). */
function resetPeak(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** The duration a `snapshot` log line reports ("... in 12ms" / "in 1.2s"), in ms. */
/** A snapshot line's own duration: its `duration_ms`, else the "in 3.1s" of its message (older daemons; NaN past a minute). */
function reportedMs(line: { message?: unknown; duration_ms?: unknown }): number {
  if (typeof line.duration_ms === 'number') return line.duration_ms;
  const m = String(line.message).match(/ in (\d+(?:\.\d+)?)(ms|s)$/);
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
}

// ---------------------------------------------------------------------------------------------

export async function runIdle(base: string): Promise<Verdict[]> {
  const RUNS = Math.max(1, Math.round(envNumber('BENCH_IDLE_RUNS', 10)));
  const IDLE = envNumber('BENCH_IDLE_SECONDS', 30);
  const LAT = Math.max(1, Math.round(envNumber('BENCH_LATENCY_REPEAT', 5)));
  const settle = SETTLE_MS();
  const runs = Array.from({ length: RUNS }, (_, i) => ({ name: `run-${i}`, dir: path.join(base, 'runs', `run-${i}`), store: path.join(base, 'stores', `run-${i}`) }));
  for (const r of runs) {
    fs.mkdirSync(r.dir, { recursive: true });
    writeRandom(path.join(r.dir, 'model.safetensors'), 4 << 20);
    fs.writeFileSync(path.join(r.dir, 'trainer_state.json'), JSON.stringify({ epoch: 1, global_step: 100 }));
  }
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {level: info, format: json}\nruns:\n${runs.map((r) => runYaml(r.name, r.dir, r.store)).join('\n')}\n`);

  note(`daemon watching ${RUNS} runs: waiting for their first backups`);
  const t0 = performance.now();
  const d = startDaemon(cfg);
  try {
    await d.waitFor((l) => l.event === 'daemon-start', 60_000, 'daemon-start');
    for (const r of runs) await d.waitFor((l) => l.event === 'snapshot' && l.run === r.name, 120_000, `the first backup of ${r.name}`);
    const firstBackups = seconds(t0);
    await sleep(3000);

    note(`idle for ${IDLE}s`);
    const cpu0 = cpuSeconds(d.pid);
    const sw0 = switches(d.pid);
    const linesBefore = d.lines.length;
    const rss: number[] = [];
    const slices: number[] = [];
    let last = cpu0;
    const tIdle = performance.now();
    for (let s = 1; s <= IDLE; s++) {
      await sleep(tIdle + s * 1000 - performance.now());
      rss.push(memory(d.pid).rss);
      if (s % 5 === 0 || s === IDLE) {
        const now = cpuSeconds(d.pid);
        slices.push(now - last);
        last = now;
      }
    }
    const idleWall = seconds(tIdle);
    const idleCpu = cpuSeconds(d.pid) - cpu0;
    const idleSwitches = switches(d.pid) - sw0;
    const idleLines = d.lines.length - linesBefore;
    const mem = memory(d.pid);

    note(`latency: ${LAT} writes to ${runs[0]!.name}`);
    const lat: { total: number; overSettle: number; snapMs: number }[] = [];
    for (let k = 0; k < LAT; k++) {
      const from = d.lines.length;
      // A trainer's save: the weights, then its state file; the last write is the state file.
      writeRandom(path.join(runs[0]!.dir, 'model.safetensors'), 4 << 20);
      fs.writeFileSync(path.join(runs[0]!.dir, 'trainer_state.json'), JSON.stringify({ epoch: 2 + k, global_step: 200 + 100 * k }));
      const lastWrite = performance.now();
      const snap = await d.waitFor((l) => l.event === 'snapshot' && l.run === runs[0]!.name, 60_000, 'the snapshot of a change', from);
      lat.push({ total: snap.at - lastWrite, overSettle: snap.at - lastWrite - settle, snapMs: reportedMs(snap.line) });
      await sleep(1000);
    }
    const code = await d.stop();

    const pct = (idleCpu / idleWall) * 100;
    heading(`daemon: ${RUNS} runs watched, idle ${IDLE}s, then ${LAT} changes (settle ${settle} ms)`);
    out(`first backups of all ${RUNS} runs (4 MB each) ${secs(firstBackups)} s after the daemon was spawned`);
    out(
      table(
        ['idle', 'value'],
        [
          ['CPU (utime+stime)', `${idleCpu.toFixed(2)} s in ${idleWall.toFixed(1)} s = ${pct.toFixed(2)}% of one core`],
          ['CPU per 5 s slice (s)', slices.map((x) => x.toFixed(2)).join(' ')],
          ['context switches', `${idleSwitches} (${(idleSwitches / idleWall).toFixed(1)}/s)`],
          ['log lines while idle', String(idleLines)],
          ['VmRSS (min / max)', `${formatBytes(Math.min(...rss))} / ${formatBytes(Math.max(...rss))}`],
          ['VmHWM (peak since start)', formatBytes(mem.peak)],
        ],
      ),
    );
    out();
    const over = stats(lat.map((l) => l.overSettle / 1000));
    out(
      table(
        ['latency (last write -> `snapshot` line)', 'ms'],
        [
          ['total, every sample', lat.map((l) => Math.round(l.total)).join(' ')],
          [`minus settle (${settle} ms), every sample`, lat.map((l) => Math.round(l.overSettle)).join(' ')],
          ['  of which the snapshot itself (its log line)', lat.map((l) => Math.round(l.snapMs)).join(' ')],
          ['minus settle: best / median', `${ms(over.best * 1000)} / ${ms(over.median * 1000)}`],
        ],
      ),
    );
    out(`daemon exit code after SIGTERM: ${code}`);
    return [
      {
        target: 'idle CPU near zero',
        met: pct < 1,
        detail: `${pct.toFixed(2)}% of one core (${idleCpu.toFixed(2)} s CPU in ${idleWall.toFixed(0)} s) watching ${RUNS} runs, VmRSS ${formatBytes(mem.rss)} (counted as near zero: under 1% of one core)`,
      },
    ];
  } finally {
    await d.stop();
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Samples a process's CPU every 100 ms until it used less than 2% of a core over a whole second
 * (at most one 10 ms clock tick); returns when that quiet second began (seconds after `t0`) and
 * the CPU used until then.
 */
async function untilQuiet(pid: number, t0: number, timeoutMs: number): Promise<{ quietAt: number; cpu: number }> {
  const samples: { at: number; cpu: number }[] = [];
  for (;;) {
    const at = performance.now();
    const cpu = cpuSeconds(pid);
    samples.push({ at, cpu });
    let from: { at: number; cpu: number } | undefined;
    for (const s of samples) if (s.at <= at - 1000) from = s;
    if (from && cpu - from.cpu < 0.015) return { quietAt: (from.at - t0) / 1000, cpu: from.cpu };
    if (at - t0 > timeoutMs) throw new Error(`the daemon was still busy after ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

export async function runStartup(base: string): Promise<Verdict[]> {
  const FILES = Math.max(1, Math.round(envNumber('BENCH_STARTUP_FILES', 100_000)));
  const CHANGES = Math.max(1, Math.round(envNumber('BENCH_STARTUP_CHANGES', 3)));
  const PER_DIR = 1000;
  const run = path.join(base, 'run');
  const store = path.join(base, 'store');
  note(`writing ${FILES} small files`);
  const body = JSON.stringify({ tokens: Array.from({ length: 40 }, (_, i) => i * 7919) });
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(run, 'cache', `shard-${String(Math.floor(i / PER_DIR)).padStart(4, '0')}`);
    if (i % PER_DIR === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `item-${String(i).padStart(7, '0')}.json`), body);
  }
  writeRandom(path.join(run, 'model.safetensors'), 16 << 20);
  fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: 1, global_step: 100 }));
  const count = FILES + 2;
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {level: debug, format: json}\nruns:\n${runYaml('big', run, store)}\n`);
  const timeout = Math.max(600_000, FILES * 10);

  // 1. The first start on an empty store: the first snapshot copies every file (each fsynced).
  syncAll();
  note(`first start: the daemon's first snapshot of ${count} files`);
  let t0 = performance.now();
  let d: Daemon = startDaemon(cfg);
  let first: { atStart: number; snapshot: number; snapMs: number; peakAtLine: number; peak: number; rss: number };
  try {
    const start = await d.waitFor((l) => l.event === 'start', timeout, 'start');
    const snap = await d.waitFor((l) => l.event === 'snapshot', timeout, 'the first snapshot');
    const peakAtLine = memory(d.pid).peak;
    await untilQuiet(d.pid, t0, timeout);
    // The peak once quiet covers what follows the snapshot too (retention, the push queue).
    const mem = memory(d.pid);
    first = { atStart: (start.at - t0) / 1000, snapshot: (snap.at - t0) / 1000, snapMs: reportedMs(snap.line), peakAtLine, peak: mem.peak, rss: mem.rss };
  } finally {
    await d.stop();
  }

  // 2. A restart: the store holds a snapshot of exactly this state.
  syncAll();
  note('restart with that snapshot in the store');
  t0 = performance.now();
  d = startDaemon(cfg);
  let restart: { watching: number; evaluated: number; quiet: number; cpu: number; rss: number; peak: number; watches: number };
  const changes: { total: number; overSettle: number; snapMs: number; copied: number; linked: number; peak: number; rss: number; cpu: number }[] = [];
  try {
    const start = await d.waitFor((l) => l.event === 'start', timeout, 'start');
    const evaluated = await d.waitFor((l) => l.event === 'evaluated', timeout, 'the first evaluation');
    const quiet = await untilQuiet(d.pid, t0, timeout);
    const mem = memory(d.pid);
    restart = {
      watching: (start.at - t0) / 1000,
      evaluated: (evaluated.at - t0) / 1000,
      quiet: quiet.quietAt,
      cpu: quiet.cpu,
      rss: mem.rss,
      peak: mem.peak,
      watches: inotifyWatches(d.pid),
    };
    if (d.lines.some((a) => a.line.event === 'snapshot')) throw new Error('the restarted daemon took a snapshot of an unchanged state');

    // 3. One file changes, CHANGES times: a snapshot of the state, every other file a hard link.
    // The peak is the process's VmHWM, reset before each change (`clear_refs` 5), read once quiet.
    for (let k = 0; k < CHANGES; k++) {
      note(`one file changed (${k + 1} of ${CHANGES})`);
      resetPeak(d.pid);
      const from = d.lines.length;
      const cpuBefore = cpuSeconds(d.pid);
      fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: 2 + k, global_step: 200 + 100 * k }));
      const lastWrite = performance.now();
      const snap = await d.waitFor((l) => l.event === 'snapshot', timeout, 'the snapshot of the change', from);
      const quiet = await untilQuiet(d.pid, performance.now(), timeout);
      const mem = memory(d.pid);
      changes.push({
        total: snap.at - lastWrite,
        overSettle: snap.at - lastWrite - SETTLE_MS(),
        snapMs: reportedMs(snap.line),
        copied: Number(snap.line.copied_bytes),
        linked: Number(snap.line.linked_bytes),
        peak: mem.peak,
        rss: mem.rss,
        cpu: quiet.cpu - cpuBefore,
      });
    }
  } finally {
    await d.stop();
  }

  // What the daemon's periodic rescan (every max(60 s, 20 x scan time)) costs on this run: a scan
  // and the state digest, in this process.
  const rescan: number[] = [];
  const rescanCpu: number[] = [];
  for (let k = 0; k < 3; k++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });
    stateDigest(entries);
    rescan.push(seconds(t));
    const c = process.cpuUsage(c0);
    rescanCpu.push((c.user + c.system) / 1e6);
  }
  const rescanBest = stats(rescanCpu).median;
  const rescanEvery = rescanIntervalMs(stats(rescan).median * 1000) / 1000;

  // For scale: the same files copied by cp -a and made durable.
  syncAll();
  const tCp = performance.now();
  sh('cp', ['-a', run, path.join(base, 'cp')]);
  syncFs(base);
  const cpSeconds = seconds(tCp);

  heading(`daemon start-up: a run of ${count} files (${FILES} small files in folders of ${PER_DIR}, a 16 MB model, trainer_state.json)`);
  out(
    table(
      ['', 'seconds after spawn', 'notes'],
      [
        ['first start, empty store: watching', secs(first.atStart), ''],
        ['  first snapshot logged', secs(first.snapshot), `the snapshot itself ${secs(first.snapMs / 1000)} s (${((first.snapMs * 1000) / count).toFixed(0)} us per file: copy, sha256, durable)`],
        ['  memory', '', `VmHWM (peak) ${formatBytes(first.peakAtLine)} at the snapshot line, ${formatBytes(first.peak)} once quiet; VmRSS then ${formatBytes(first.rss)}`],
        ['restart, snapshot in store: run watched', secs(restart.watching), '`start` line: node and modules loaded, config read, store lock, sweep, newest snapshot read'],
        ['  first evaluation (scan, settle check)', secs(restart.evaluated), 'nothing to capture: the state is the newest snapshot'],
        ['  CPU quiet (watcher walk done)', secs(restart.quiet), `${restart.cpu.toFixed(2)} s CPU used to get there`],
        ['  memory when quiet', '', `VmRSS ${formatBytes(restart.rss)}, VmHWM (peak) ${formatBytes(restart.peak)}`],
        ['  inotify watches', '', `${restart.watches} (the run has ${count} files in ${Math.ceil(FILES / PER_DIR) + 2} folders)`],
      ],
    ),
  );
  out(`for scale: cp -a of the same run + sync -f: ${secs(cpSeconds)} s (${((cpSeconds * 1e6) / count).toFixed(0)} us per file)`);
  out(
    `periodic rescan (scan + state digest, in process): ${list(rescan)} s wall, ${list(rescanCpu)} s CPU; the daemon rescans every ` +
      `${rescanEvery.toFixed(0)} s, so ~${((rescanBest / rescanEvery) * 100).toFixed(2)}% of one core on average while idle`,
  );
  out();
  const change = changes.reduce((a, b) => (b.snapMs < a.snapMs ? b : a));
  const snapStats = stats(changes.map((c) => c.snapMs / 1000));
  out(
    `one file changed (${CHANGES} times) -> snapshot line: ${changes.map((c) => Math.round(c.total)).join(' ')} ms (${changes.map((c) => Math.round(c.overSettle)).join(' ')} ms over the ${SETTLE_MS()} ms settle)`,
  );
  out(
    `  the snapshot itself: ${changes.map((c) => Math.round(c.snapMs)).join(' ')} ms, best / median ${ms(snapStats.best * 1000)} / ${ms(snapStats.median * 1000)}: ` +
      `${formatBytes(change.copied)} copied, ${formatBytes(change.linked)} linked = ${((change.snapMs * 1000) / count).toFixed(0)} us per linked file (best)`,
  );
  out(
    `  the daemon's CPU for each, from the write until quiet (scan, snapshot, retention): ${changes.map((c) => c.cpu.toFixed(2)).join(' ')} s`,
  );
  out(
    `  memory: VmHWM (peak, reset before each change) ${changes.map((c) => formatBytes(c.peak)).join(' ')}; VmRSS once quiet ${changes.map((c) => formatBytes(c.rss)).join(' ')}`,
  );
  const peakAll = Math.max(first.peak, restart.peak, ...changes.map((c) => c.peak));
  return [
    {
      target: `start-up with ${count} files`,
      met: 'info',
      detail: `ready (CPU quiet) ${secs(restart.quiet)} s after spawn, ${restart.cpu.toFixed(1)} s CPU, VmRSS ${formatBytes(restart.rss)}, ${restart.watches} inotify watches`,
    },
    {
      target: `first snapshot of ${count} files within 1.5x of cp -a + sync (issue 15)`,
      met: first.snapMs / 1000 <= 1.5 * cpSeconds,
      detail: `${secs(first.snapMs / 1000)} s vs cp -a + sync ${secs(cpSeconds)} s in the same run: ${(first.snapMs / 1000 / cpSeconds).toFixed(2)}x`,
    },
    {
      target: `one file changed among ${count}: snapshot under 1 s (issue 15)`,
      met: snapStats.best < 1 && snapStats.median < 1 ? true : snapStats.best >= 1 && snapStats.median >= 1 ? false : 'edge',
      detail: `best / median ${secs(snapStats.best)} / ${secs(snapStats.median)} s of ${CHANGES}`,
    },
    {
      target: `peak RSS under 200 MB with ${count} files (issue 15)`,
      met: peakAll < 200e6,
      detail: `VmHWM first start ${formatBytes(first.peak)}, restart ${formatBytes(restart.peak)}, one file changed ${changes.map((c) => formatBytes(c.peak)).join(' ')}`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------

export async function runList(base: string): Promise<Verdict[]> {
  const N = Math.max(1, Math.round(envNumber('BENCH_LIST_SNAPSHOTS', 1000)));
  const REPEAT = Math.max(3, Math.round(envNumber('BENCH_REPEAT', 3)));
  const run = path.join(base, 'run');
  const store = path.join(base, 'store');
  fs.mkdirSync(path.join(run, 'checkpoint'), { recursive: true });
  writeRandom(path.join(run, 'base_model.safetensors'), 1 << 20);
  writeRandom(path.join(run, 'checkpoint', 'model.safetensors'), 64 << 10);
  writeRandom(path.join(run, 'checkpoint', 'optimizer.pt'), 128 << 10);
  fs.writeFileSync(path.join(run, 'config.json'), '{"model_type": "bench"}');
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {level: error, format: json}\nruns:\n${runYaml('listed', run, store)}\n`);

  // Real snapshots, written by the store code: every 10th changes the weights and optimizer
  // (copied), the others only trainer_state.json (the rest hard-linked), as a run with frequent
  // backups would; progress recorded in each.
  note(`writing ${N} snapshots`);
  const t0 = performance.now();
  let previous: SnapshotMeta | null = null;
  let now = Date.now() - N * 60_000;
  for (let i = 1; i <= N; i++) {
    if (i % 10 === 1) {
      writeRandom(path.join(run, 'checkpoint', 'model.safetensors'), 64 << 10);
      writeRandom(path.join(run, 'checkpoint', 'optimizer.pt'), 128 << 10);
    }
    fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: Math.ceil(i / 10), global_step: i * 50, log_history: [{ loss: 2 / i }] }));
    const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });
    const progress: Progress = { ...NO_PROGRESS, epoch: Math.ceil(i / 10), step: i * 50, loss: 2 / i };
    previous = await writeSnapshot({ store, runName: 'listed', runDir: run, entries, kind: 'backup', trigger: 'every 1 change', progress, previous, now: (now += 60_000), settleMs: 0 });
  }
  const built = seconds(t0);

  syncAll();
  const version: number[] = [];
  const json: number[] = [];
  const human: number[] = [];
  const inProcess: number[] = [];
  const runConfig = loadConfigFile(cfg).runs[0]!;
  const outFile = path.join(base, 'list.json');
  for (let r = 0; r < REPEAT; r++) {
    version.push((await runCli(['--version'], { stdoutFile: outFile })).seconds);
    const j = await runCli(['list', '--json', '--config', cfg], { stdoutFile: outFile });
    if (j.code !== 0) throw new Error(`ckptd list --json failed (${j.code}): ${j.stderr}`);
    const n = (JSON.parse(j.stdout) as unknown[]).length;
    if (n !== N) throw new Error(`ckptd list --json listed ${n} records, expected ${N}`);
    json.push(j.seconds);
    const h = await runCli(['list', '--config', cfg], { stdoutFile: outFile });
    if (h.code !== 0) throw new Error(`ckptd list failed (${h.code}): ${h.stderr}`);
    human.push(h.seconds);
    const t = performance.now();
    await listRecords(runConfig, undefined);
    inProcess.push(seconds(t));
  }
  // What a script piping the output (`ckptd list --json | jq`) receives.
  const expected = fs.statSync(outFile).size > 0 ? Buffer.byteLength((await runCli(['list', '--json', '--config', cfg], { stdoutFile: outFile })).stdout) : 0;
  const piped = await runCli(['list', '--json', '--config', cfg]);
  const pipedBytes = Buffer.byteLength(piped.stdout);
  const js = stats(json);
  heading(`ckptd list: a store with ${N} snapshots (${REPEAT} samples each)`);
  out(`${N} snapshots written by writeSnapshot in ${secs(built)} s (${((built / N) * 1000).toFixed(1)} ms each: a few small files, fsynced)`);
  out(
    table(
      ['command', 'best / median (s)', 'every sample'],
      [
        ['ckptd --version (node start-up, modules loaded)', bm(stats(version)), list(version)],
        ['ckptd list --json', bm(js), list(json)],
        ['ckptd list (table + store usage)', bm(stats(human)), list(human)],
        ['listRecords() in process (no start-up)', bm(stats(inProcess)), list(inProcess)],
      ],
    ),
  );
  out(
    pipedBytes === expected
      ? `through a pipe, \`ckptd list --json\` delivered all ${expected} bytes`
      : `BUG: through a pipe, \`ckptd list --json\` delivered ${pipedBytes} of its ${expected} bytes (stdout redirected to a file: all of them); the times above are with stdout to a file`,
  );
  const hs = stats(human);
  const verdicts: Verdict[] = [
    {
      target: `\`list\` of ${N} snapshots under a second`,
      met: js.median < 1 && hs.median < 1,
      detail: `ckptd list --json ${bm(js)} s, ckptd list (table) ${bm(hs)} s, best / median, process start included`,
    },
  ];
  if (pipedBytes !== expected) {
    verdicts.push({ target: '`list --json` output complete through a pipe', met: false, detail: `${pipedBytes} of ${expected} bytes arrived: the CLI exits before stdout (a pipe) is flushed` });
  }
  return verdicts;
}
