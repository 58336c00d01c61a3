/**
 * The series benchmark: a training state that evolves over BENCH_GENERATIONS generations, kept
 * by ckptd and by the tools people would otherwise use, each generation timed in the same run.
 *
 * The state (BENCH_GB in total, default 1.5; `buildState` in bench/state.ts): a frozen text
 * encoder and base model that never change (40%), weights (20%) and optimizer (40%) rewritten every
 * generation with fresh random bytes, and small JSON/pickle files, some frozen, some changing. Per
 * generation, each tool keeps the whole state as a new version:
 *
 * - ckptd: what the daemon does for a settled state (`snapshotNow`): scan, then `captureSnapshot`
 *   (the real store code: `writeSnapshot` with previous = the newest snapshot; copies hashed with
 *   sha256, fsynced, unchanged files hard-linked);
 * - `cp -a` of the whole state into a new folder;
 * - `rsync -a --link-dest=<previous copy>` into a new folder (unchanged files hard-linked);
 * - `restic backup` into a local repository (deduplicated, compressed, encrypted).
 *
 * Every sample starts after a `sync`. A tool's time is taken twice in the same sample: when the
 * command returns, and after a `sync -f` of the destination (durable, as ckptd is when it returns;
 * the tables use that one). BENCH_REPEAT (default 5) rounds per generation, each round one sample
 * of ckptd, cp and rsync in a rotating order (none always first after the new generation was
 * written; one round's samples are seconds apart, so their ratios share the disk's phase); then
 * BENCH_RESTIC_REPEAT (default 2) samples of restic, ten times slower than the rest. All but the
 * last sample of each tool are undone (the store and repository rolled back to the previous
 * generation), so every sample does the same work.
 * Then the newest version is restored into an empty folder by each tool.
 */
import fs from 'node:fs';
import path from 'node:path';
import { restoreSnapshot } from '../src/ops/restore.js';
import { listSnapshots, newestGoodSnapshot } from '../src/store/read-store.js';
import type { SnapshotMeta } from '../src/store/types.js';
import { silentLogger } from '../src/util/logger.js';
import { duBytes, ensureTool, envNumber, note, removeTree, seconds, sh, stats, syncAll, syncFs } from './lib.js';
import { bm, formatBytes, heading, list, out, rate, ratio, table, type Verdict } from './report.js';
import { benchRun, buildState, snapshotNow } from './state.js';

/** One timed sample: seconds until the command returned, and until its writes were durable. */
interface Sample {
  returned: number;
  durable: number;
}

/** A way of keeping versions of the state. */
interface Tool {
  name: string;
  /** Samples per generation. */
  rounds: number;
  /**
   * Ten times slower than the rest (restic): sampled after the rounds of the others, so its
   * writes do not sit between theirs; compared median to median, not round by round.
   */
  slow: boolean;
  /** Keeps the current state as version `gen`; returns the sample. */
  keep(gen: number): Promise<Sample>;
  /** Undoes the version just kept (all samples but the last of a generation). */
  undo(gen: number): void;
  /** Bytes it holds for every version kept so far (each inode once). */
  stored(): number;
  /** Restores the newest version into the new folder `to`. */
  restore(to: string): Promise<Sample>;
}

interface GenResult {
  label: string;
  copied: number;
  linked: number;
  /** Per tool, its samples in order (for the others than restic: one per round). */
  times: Map<string, Sample[]>;
  stored: Map<string, number>;
}

export async function runSeries(base: string): Promise<Verdict[]> {
  const GB = envNumber('BENCH_GB', 1.5);
  const GENERATIONS = Math.max(1, Math.round(envNumber('BENCH_GENERATIONS', 4)));
  const REPEAT = Math.max(1, Math.round(envNumber('BENCH_REPEAT', 5)));
  const RESTIC_REPEAT = Math.min(REPEAT, Math.max(1, Math.round(envNumber('BENCH_RESTIC_REPEAT', 2))));
  const total = Math.round(GB * 1e9);
  const root = base;
  const run = path.join(root, 'run');
  // Every sample below starts with `syncAll` (and a memory warm-up with BENCH_WARM_GB).
  const state = buildState(run, total);
  const { frozen: frozenFiles, changing, changedBytes } = state;

  const skipped: string[] = [];
  const tools: Tool[] = [await ckptdTool(root, run, REPEAT)];
  tools.push(cpTool(root, run, REPEAT));
  const rsync = ensureTool('rsync', 'rsync');
  if ('path' in rsync) tools.push(rsyncTool(root, run, REPEAT));
  else skipped.push(`rsync skipped: ${rsync.missing}`);
  const restic = ensureTool('restic', 'restic');
  if ('path' in restic) tools.push(resticTool(root, run, RESTIC_REPEAT));
  else skipped.push(`restic skipped: ${restic.missing}`);
  for (const s of skipped) note(s);
  const versions = [sh('cp', ['--version']).split('\n')[0]!, ...('path' in rsync ? [sh('rsync', ['--version']).split('\n')[0]!.replace(/\s+/g, ' ')] : []), ...('path' in restic ? [sh('restic', ['version']).trim()] : [])];

  const results: GenResult[] = [];
  const ck = tools[0] as Tool & { last: () => SnapshotMeta };
  const main = tools.filter((t) => !t.slow);
  const slow = tools.filter((t) => t.slow);
  // Rounds of samples, then the slow tools' samples.
  const sampleAll = async (k: number, take: (t: Tool) => Promise<Sample>, undo: (t: Tool) => void): Promise<Map<string, Sample[]>> => {
    const times = new Map<string, Sample[]>(tools.map((t) => [t.name, []]));
    for (let r = 0; r < REPEAT; r++) {
      for (const t of main.map((_, i) => main[(i + r + k) % main.length]!)) {
        syncAll();
        times.get(t.name)!.push(await take(t));
        if (r < REPEAT - 1) undo(t);
      }
    }
    for (const t of slow) {
      for (let r = 0; r < t.rounds; r++) {
        syncAll();
        times.get(t.name)!.push(await take(t));
        if (r < t.rounds - 1) undo(t);
      }
    }
    return times;
  };
  for (let gen = 1; gen <= GENERATIONS + 1; gen++) {
    const unchanged = gen === GENERATIONS + 1;
    if (!unchanged) state.newGeneration(gen);
    const label = unchanged ? `${gen} (nothing changed)` : gen === 1 ? '1 (first: all new)' : String(gen);
    note(`generation ${label}: ${REPEAT} rounds${slow.length > 0 ? `, then ${slow.map((t) => `${t.name} x${t.rounds}`).join(', ')}` : ''}`);
    const times = await sampleAll(
      gen,
      (t) => t.keep(gen),
      (t) => t.undo(gen),
    );
    const meta = ck.last();
    results.push({
      label,
      copied: meta.copied_bytes,
      linked: meta.linked_bytes,
      times,
      stored: new Map(tools.map((t) => [t.name, t.stored()])),
    });
  }

  // Restore the newest version into an empty folder.
  note(`restore of the newest version`);
  const restoreRoot = path.join(root, 'restore');
  fs.mkdirSync(restoreRoot, { recursive: true });
  const restoreTimes = await sampleAll(
    0,
    async (t) => {
      const to = path.join(restoreRoot, t.name.replace(/\W+/g, '-'));
      const sample = await t.restore(to);
      checkRestored(run, to, t.name);
      removeTree(to);
      return sample;
    },
    () => undefined,
  );

  const links = await linkCheck(path.join(root, 'store'), frozenFiles.map(([rel]) => rel), changing.map(([rel]) => rel));
  return report(results, restoreTimes, tools, { total, changedBytes, frozen: state.frozenBytes, REPEAT, RESTIC_REPEAT, skipped, links, versions });
}

/**
 * How the store holds the versions: every frozen file must be ONE inode shared by all snapshots
 * (an unchanged file costs a link), every changing file one inode per snapshot.
 */
async function linkCheck(store: string, frozen: string[], changing: string[]): Promise<{ ok: boolean; text: string }> {
  const snaps = await listSnapshots(store);
  const inodes = (rel: string): number => new Set(snaps.map((s) => fs.statSync(path.join(s.path, rel)).ino)).size;
  const frozenInodes = frozen.map(inodes);
  const changingInodes = changing.map(inodes);
  const gens = snaps.length - 1; // the unchanged generation links the changing files too
  const ok = frozenInodes.every((n) => n === 1) && changingInodes.every((n) => n === gens);
  return {
    ok,
    text:
      `${snaps.length} snapshots: each of the ${frozen.length} frozen files is ${frozenInodes.every((n) => n === 1) ? 'one inode shared by all of them' : `stored ${frozenInodes.join('/')} times`}; ` +
      `each changing file ${changingInodes.join('/')} inodes (one per changed generation)`,
  };
}

/** ckptd as the daemon does it for a settled state. */
async function ckptdTool(root: string, run: string, rounds: number): Promise<Tool & { last: () => SnapshotMeta }> {
  const { cfg } = await benchRun(root, run);
  let last: SnapshotMeta | null = null;
  let clock = Date.now();
  return {
    name: 'ckptd',
    rounds,
    slow: false,
    last: () => last!,
    async keep() {
      const t0 = performance.now();
      last = await snapshotNow(cfg, (clock += 1000));
      const returned = seconds(t0);
      syncFs(cfg.store);
      return { returned, durable: seconds(t0) };
    },
    undo() {
      removeTree(path.dirname(last!.path));
      last = null;
    },
    stored: () => duBytes(cfg.store),
    async restore(to) {
      const snapshot = (await newestGoodSnapshot(cfg.store))!;
      const t0 = performance.now();
      await restoreSnapshot({ run: cfg, snapshot, to, force: false, now: Date.now(), logger: silentLogger });
      const returned = seconds(t0);
      syncFs(to);
      return { returned, durable: seconds(t0) };
    },
  };
}

/** Times `cmd` and then a `sync -f` of `dest`. */
function timed(cmd: string, args: string[], dest: string, env?: NodeJS.ProcessEnv): Sample {
  const t0 = performance.now();
  sh(cmd, args, env ? { env } : {});
  const returned = seconds(t0);
  syncFs(dest);
  return { returned, durable: seconds(t0) };
}

function cpTool(root: string, run: string, rounds: number): Tool {
  const dir = path.join(root, 'cp');
  fs.mkdirSync(dir, { recursive: true });
  let newest = '';
  return {
    name: 'cp -a',
    rounds,
    slow: false,
    async keep(gen) {
      newest = path.join(dir, `gen-${gen}`);
      return timed('cp', ['-a', run, newest], dir);
    },
    undo: () => removeTree(newest),
    stored: () => duBytes(dir),
    async restore(to) {
      return timed('cp', ['-a', newest, to], path.dirname(to));
    },
  };
}

function rsyncTool(root: string, run: string, rounds: number): Tool {
  const dir = path.join(root, 'rsync');
  fs.mkdirSync(dir, { recursive: true });
  let newest = '';
  return {
    name: 'rsync --link-dest',
    rounds,
    slow: false,
    async keep(gen) {
      const previous = gen > 1 ? path.join(dir, `gen-${gen - 1}`) : null;
      newest = path.join(dir, `gen-${gen}`);
      return timed('rsync', ['-a', ...(previous ? [`--link-dest=${previous}`] : []), `${run}/`, `${newest}/`], dir);
    },
    undo: () => removeTree(newest),
    stored: () => duBytes(dir),
    async restore(to) {
      return timed('rsync', ['-a', `${newest}/`, `${to}/`], path.dirname(to));
    },
  };
}

function resticTool(root: string, run: string, rounds: number): Tool {
  const repo = path.join(root, 'restic-repo');
  const env = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: path.join(root, 'restic-cache') };
  sh('restic', ['init', '-q'], { env });
  let before = new Set<string>();
  return {
    name: 'restic backup',
    rounds,
    slow: true,
    async keep() {
      before = new Set(filesUnder(repo));
      return timed('restic', ['backup', '-q', '--host', 'bench', run], repo, env);
    },
    undo() {
      // A repository only gains files in a backup (packs, index, snapshot): removing the new ones
      // rolls it back to the previous generation exactly.
      for (const f of filesUnder(repo)) if (!before.has(f)) fs.rmSync(path.join(repo, f), { force: true });
    },
    stored: () => duBytes(repo),
    async restore(to) {
      // restic restores the absolute path under the target: <to>/<run>.
      return timed('restic', ['restore', '-q', 'latest', '--target', to], path.dirname(to), env);
    },
  };
}

function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

/** The restored copy has the state's files with their sizes (a cheap check that each tool did restore). */
function checkRestored(run: string, to: string, tool: string): void {
  const resticRoot = path.join(to, run);
  const top = fs.existsSync(resticRoot) ? resticRoot : to;
  for (const rel of ['checkpoint/optimizer.pt', 'base_model.safetensors', 'trainer_state.json']) {
    const a = fs.statSync(path.join(run, rel)).size;
    const b = fs.statSync(path.join(top, rel), { throwIfNoEntry: false })?.size;
    if (a !== b) throw new Error(`${tool} restore: ${rel} is ${b ?? 'missing'} bytes, expected ${a}`);
  }
}

/** The median over rounds of a / b, each round's samples against each other (taken seconds apart). */
function pairedMedian(a: number[], b: number[]): number {
  return stats(a.map((x, i) => x / b[i]!)).median;
}

function report(
  results: GenResult[],
  restoreTimes: Map<string, Sample[]>,
  tools: Tool[],
  o: { total: number; changedBytes: number; frozen: number; REPEAT: number; RESTIC_REPEAT: number; skipped: string[]; links: { ok: boolean; text: string }; versions: string[] },
): Verdict[] {
  const names = tools.map((t) => t.name);
  const others = names.slice(1);
  const short = (n: string): string => n.split(' ')[0]!;
  const durable = (xs: Sample[]): number[] => xs.map((x) => x.durable);
  const best = (xs: number[]): number => Math.min(...xs);
  const st = stats;
  const isSlow = (n: string): boolean => tools.find((t) => t.name === n)!.slow;
  // Ratio cells: best against best / the median of the rounds' own ratios (restic: median / median).
  const vs = (a: number[], b: number[], n: string): string =>
    `${ratio(best(a), best(b))} / ${(isSlow(n) ? stats(a).median / stats(b).median : pairedMedian(a, b)).toFixed(2)}x`;

  heading(`series: ${results.length - 1} generations + 1 unchanged; ${o.REPEAT} rounds each, then ${o.RESTIC_REPEAT} restic samples`);
  out(
    `state ${formatBytes(o.total)}: frozen ${formatBytes(o.frozen)} (text encoder, base model, configs), ` +
      `changing every generation ${formatBytes(o.changedBytes)} (weights, optimizer, scheduler, rng), trainer_state.json`,
  );
  for (const s of o.skipped) out(s);
  out(`tools: ${o.versions.join('; ')}`);
  out('seconds until durable, best / median (a tool: its command + `sync -f`; ckptd fsyncs before it returns)');
  out('ratios: best / best, then the median of the per-round ratios (samples of one round are taken seconds apart; restic: median / median)');
  out();
  const head = ['generation', 'ckptd copied', 'ckptd linked', ...names, ...others.map((n) => `ckptd vs ${short(n)}`)];
  const rows = results.map((g) => {
    const ck = durable(g.times.get('ckptd')!);
    return [g.label, formatBytes(g.copied), formatBytes(g.linked), ...names.map((n) => bm(st(durable(g.times.get(n)!)))), ...others.map((n) => vs(ck, durable(g.times.get(n)!), n))];
  });
  out(table(head, rows));

  // Throughput: ckptd writes only the changed bytes, cp all of them.
  const tput = results
    .filter((g) => g.copied > 0)
    .map((g) => {
      const ck = durable(g.times.get('ckptd')!);
      const cp = durable(g.times.get('cp -a')!);
      // cp's bytes per second over ckptd's, per round: cp / ckptd = (total / cpT) / (copied / ckT).
      const perRound = ck.map((t, i) => o.total / cp[i]! / (g.copied / t));
      return { g, ck, cp, best: o.total / best(cp) / (g.copied / best(ck)), paired: stats(perRound).median };
    });
  out();
  out('throughput: bytes written / seconds until durable, best / median; ckptd writes only the changed bytes, cp -a all of them');
  out(
    table(
      ['generation', 'ckptd (copied bytes)', 'cp -a (all bytes)', 'cp / ckptd (target <= 1.2x)'],
      tput.map((t) => [
        t.g.label,
        `${rate(t.g.copied, Math.min(...t.ck))} / ${rate(t.g.copied, stats(t.ck).median)}`,
        `${rate(o.total, Math.min(...t.cp))} / ${rate(o.total, stats(t.cp).median)}`,
        `${t.best.toFixed(2)}x / ${t.paired.toFixed(2)}x`,
      ]),
    ),
  );

  out();
  out('bytes stored after each generation (du -sb: each hard-linked inode once; restic: its repository)');
  const sHead = ['generation', ...names, ...others.map((n) => `ckptd / ${short(n)}`)];
  const sRows = results.map((g) => {
    const ck = g.stored.get('ckptd')!;
    return [g.label, ...names.map((n) => formatBytes(g.stored.get(n)!)), ...others.map((n) => ratio(ck, g.stored.get(n)!))];
  });
  out(table(sHead, sRows));

  out();
  out('restore of the newest version into an empty folder, seconds until durable:');
  out('  ckptd: restoreSnapshot --to (every file copied and its sha256 checked); cp -a / rsync -a of the newest copy; restic restore latest');
  const rCk = durable(restoreTimes.get('ckptd')!);
  out(
    table(
      ['', ...names],
      [
        ['best / median', ...names.map((n) => bm(st(durable(restoreTimes.get(n)!))))],
        ['ckptd vs', '', ...others.map((n) => vs(rCk, durable(restoreTimes.get(n)!), n))],
      ],
    ),
  );

  out();
  out('every sample, in round order, restic after the rounds (seconds; "returned": when the command came back, before the `sync -f`):');
  const samples = (label: string, times: Map<string, Sample[]>): void => {
    out(`  ${label}:`);
    for (const n of names) {
      const xs = times.get(n)!;
      out(`    ${n.padEnd(18)} durable ${list(xs.map((x) => x.durable)).padEnd(30)} returned ${list(xs.map((x) => x.returned))}`);
    }
  };
  for (const g of results) samples(`generation ${g.label}`, g.times);
  samples('restore', restoreTimes);

  out();
  out(`hard links: ${o.links.text}`);

  // The issue's targets, judged by two estimates of the same ratio: best against best, and the
  // median of the per-round ratios. Both within the target: MET; both beyond it in a generation:
  // MISS; they disagree: EDGE (the difference is inside this disk's noise).
  const judge = (xs: { paired: number; best: number }[], limit: number): Verdict['met'] =>
    xs.some((x) => x.paired > limit && x.best > limit) ? false : xs.every((x) => x.paired <= limit && x.best <= limit) ? true : 'edge';
  const verdicts: Verdict[] = [];
  verdicts.push({
    target: 'snapshot throughput within 1.2x of cp -a (+sync) for changed bytes',
    met: judge(tput, 1.2),
    detail: `cp / ckptd bytes per second, best/best and paired median: ${tput.map((t) => `gen ${short(t.g.label)} ${t.best.toFixed(3)}x, ${t.paired.toFixed(3)}x`).join('; ')}`,
  });
  if (names.includes('rsync --link-dest')) {
    const rs = results.map((g) => {
      const ck = durable(g.times.get('ckptd')!);
      const r = durable(g.times.get('rsync --link-dest')!);
      return { g, paired: pairedMedian(ck, r), best: best(ck) / best(r) };
    });
    verdicts.push({
      target: 'at least as fast as rsync --link-dest (+sync) every generation',
      met: judge(rs, 1),
      detail: `ckptd / rsync seconds, best/best and paired median: ${rs.map((v) => `gen ${short(v.g.label)} ${v.best.toFixed(2)}x, ${v.paired.toFixed(2)}x`).join('; ')}`,
    });
  } else verdicts.push({ target: 'at least as fast as rsync --link-dest every generation', met: null, detail: 'rsync not available' });
  const still = results[results.length - 1]!;
  verdicts.push({
    target: 'an unchanged file costs a link',
    met: o.links.ok && still.copied === 0,
    detail: `${o.links.text}; the unchanged generation copied ${formatBytes(still.copied)} and took ${bm(st(durable(still.times.get('ckptd')!)))} s`,
  });
  return verdicts;
}
