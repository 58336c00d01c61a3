/**
 * `npm run bench`: the cost of a snapshot, side by side with `cp -a` in the same run.
 *
 * Builds a training state of BENCH_GB gigabytes (default 2): weights and optimizer that change every
 * generation, frozen files that never do, and a small JSON state. Then, for each case, times
 * ckptd's snapshot (the store as the daemon uses it: hash, fsync, rename, hard links) against `cp -a`
 * of the same bytes, and `cp -a` followed by `sync`, since ckptd's copies are durable when it returns.
 * Each case runs BENCH_REPEAT (default 3) times, each after a `sync`; the table shows the best and
 * the median, and every sample is printed below it.
 *
 *   BENCH_GB=4 BENCH_DIR=/mnt/data npm run bench
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NO_PROGRESS } from '../src/policy/types.js';
import { listSnapshots } from '../src/store/read-store.js';
import { scanState } from '../src/store/scan.js';
import { writeSnapshot } from '../src/store/write-snapshot.js';
import { formatBytes } from '../src/util/format.js';

const GB = Number(process.env.BENCH_GB ?? '2');
const base = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'ckptd-bench-'));
const run = path.join(base, 'run');
const store = path.join(base, 'store');
const total = Math.round(GB * 1e9);
const sizes = { weights: Math.round(total * 0.3), optimizer: Math.round(total * 0.6), frozen: Math.round(total * 0.1) };

function writeRandom(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  const chunk = randomBytes(8 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/** A new generation of the changing files (random bytes, so nothing can be deduplicated by luck). */
function newGeneration(gen: number): void {
  writeRandom(path.join(run, 'model.safetensors'), sizes.weights);
  writeRandom(path.join(run, 'optimizer.pt'), sizes.optimizer);
  fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: gen, global_step: gen * 1000 }));
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const REPEAT = Number(process.env.BENCH_REPEAT ?? '3');

/** Flushes dirty pages first, so one measurement does not pay for the writeback of the one before. */
function settleDisk(): void {
  execFileSync('sync');
}

/** Every timing taken, printed under the table: the disk of a shared VM is noisy, the spread says how much. */
const samples: string[] = [];
const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');

interface Stats {
  best: number;
  median: number;
}

function stats(xs: number[]): Stats {
  return { best: Math.min(...xs), median: median(xs) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cpTimes(files: string[], dst: string): { cp: Stats; cpSync: Stats } {
  const cp: number[] = [];
  const cpSync: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    for (const [list, withSync] of [
      [cp, false],
      [cpSync, true],
    ] as const) {
      fs.mkdirSync(dst, { recursive: true });
      settleDisk();
      list.push(
        time(() => {
          execFileSync('cp', ['-a', ...files, dst]);
          if (withSync) execFileSync('sync', ['-f', dst]);
        }),
      );
      fs.rmSync(dst, { recursive: true, force: true });
    }
  }
  samples.push(`cp -a ${list(cp)}`, `cp -a + sync ${list(cpSync)}`);
  return { cp: stats(cp), cpSync: stats(cpSync) };
}

/** Times a snapshot against the store's newest one, REPEAT times (each repeat's snapshot is removed again); the median. */
async function snapshot(now: number): Promise<{ seconds: Stats; copied: number; linked: number }> {
  const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });
  const previous = (await listSnapshots(store))[0] ?? null;
  const times: number[] = [];
  let meta: Awaited<ReturnType<typeof writeSnapshot>> | undefined;
  for (let i = 0; i < REPEAT; i++) {
    if (meta) {
      execFileSync('chmod', ['-R', 'u+w', path.dirname(meta.path)]);
      fs.rmSync(path.dirname(meta.path), { recursive: true });
    }
    settleDisk();
    times.push(
      await timeAsync(async () => {
        meta = await writeSnapshot({ store, runName: 'bench', runDir: run, entries, kind: 'backup', trigger: 'bench', progress: NO_PROGRESS, previous, now: now + i });
      }),
    );
  }
  samples.push(`ckptd ${list(times)}`);
  return { seconds: stats(times), copied: meta!.copied_bytes, linked: meta!.linked_bytes };
}

const rows: string[][] = [];
const row = (c: string, bytes: number, ck: Stats, cp: Stats, cpSync: Stats): void => {
  const t = (x: Stats): string => `${x.best.toFixed(2)} / ${x.median.toFixed(2)}`;
  const r = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  rows.push([c, formatBytes(bytes), t(ck), t(cp), t(cpSync), `${r(ck.best, cp.best)} / ${r(ck.median, cp.median)}`, `${r(ck.best, cpSync.best)} / ${r(ck.median, cpSync.median)}`]);
};

try {
  fs.mkdirSync(run, { recursive: true });
  fs.mkdirSync(store, { recursive: true });
  process.stderr.write(`building a ${formatBytes(total)} training state in ${run} ...\n`);
  writeRandom(path.join(run, 'frozen-text-encoder.bin'), sizes.frozen);
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ model_type: 'bench' }));
  newGeneration(1);
  const all = fs.readdirSync(run).map((n) => path.join(run, n));

  // 1. First snapshot: every byte is new.
  const first = await snapshot(Date.now());
  const c1 = cpTimes(all, path.join(base, 'cp1'));
  row('first snapshot (all bytes new)', first.copied, first.seconds, c1.cp, c1.cpSync);

  // 2. Weights and optimizer change; frozen files are linked.
  newGeneration(2);
  const changed = ['model.safetensors', 'optimizer.pt', 'trainer_state.json'].map((n) => path.join(run, n));
  const second = await snapshot(Date.now() + 1000);
  const c2 = cpTimes(changed, path.join(base, 'cp2'));
  row('weights+optimizer changed', second.copied, second.seconds, c2.cp, c2.cpSync);

  // 3. Nothing changed: every file is a hard link.
  const third = await snapshot(Date.now() + 2000);
  const c3 = cpTimes(all, path.join(base, 'cp3'));
  row('nothing changed (all linked)', third.copied, third.seconds, c3.cp, c3.cpSync);

  const head = ['case (seconds: best / median)', 'ckptd copied', 'ckptd', 'cp -a', 'cp -a + sync', 'ckptd vs cp', 'vs cp+sync'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\nckptd bench (${REPEAT} runs each): ${formatBytes(total)} state (weights ${formatBytes(sizes.weights)}, optimizer ${formatBytes(sizes.optimizer)}, frozen ${formatBytes(sizes.frozen)}) on ${os.cpus().length} cores, ${base}\n`);
  process.stdout.write(`${fmt(head)}\n${rows.map(fmt).join('\n')}\n`);
  process.stdout.write(`\nall timings (s), by case in order:\n${samples.map((x) => `  ${x}`).join('\n')}\n`);
  process.stdout.write(
    `\ncp compares the same bytes ckptd had to copy (case 3: cp copies all of it; ckptd links it).\n` +
      `ckptd hashes every copied byte (sha256) and fsyncs before it returns; "cp -a + sync" is the fair comparison for durability.\n`,
  );
} finally {
  execFileSync('chmod', ['-R', 'u+w', base]);
  fs.rmSync(base, { recursive: true, force: true });
}
