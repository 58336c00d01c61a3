/**
 * What a one-file change's capture holds alive per file: the built capture code driven as the
 * daemon drives it (`scanRun`, the newest good snapshot read whole, `bytesToCopy`, `writeSnapshot`
 * with a label callback), with V8's heap measured after a full collection at each progress report
 * and when the labels are read (the captured manifest and entries built, `snapshot.json` not yet
 * written). Not part of `npm run bench`: run it on its own, node started with `--expose-gc`:
 *
 *   node --expose-gc dist/bench/capture-heap.js <dir> [files]
 *
 * `<dir>/run-<files>` is created once (the startup bench's layout: folders of 1,000 small JSON
 * files, and a trainer_state.json), `<dir>/store-<files>` gets a first snapshot when it has none;
 * then trainer_state.json is rewritten and captured, `CAPTURE_HEAP_REPEAT` (2) times. With
 * `CAPTURE_HEAP_SNAPSHOT=<sample>` (`scanned`, `previous read`, `progress 1`, `labels`, ...), a heap
 * snapshot is written at that sample of the last capture (`<dir>/capture-<files>-<sample>.heapsnapshot`).
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { zeroConfig } from '../src/config/zero-config.js';
import { bytesToCopy, scanRun } from '../src/ops/run-actions.js';
import { NO_PROGRESS } from '../src/policy/types.js';
import { detectModelType } from '../src/progress/model-type.js';
import { storeOf } from '../src/store/local-store.js';
import { newestGoodSnapshot } from '../src/store/read-store.js';
import { writeSnapshot } from '../src/store/write-snapshot.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run node with --expose-gc');

const base = path.resolve(process.argv[2] ?? '/root/lb-mem');
const FILES = Math.round(Number(process.argv[3] ?? 100_000));
const REPEAT = Math.round(Number(process.env.CAPTURE_HEAP_REPEAT ?? 2));
const PER_DIR = 1000;
const run = path.join(base, `run-${FILES}`);
const store = path.join(base, `store-${FILES}`);

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** Heap used after a full collection. */
function alive(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function makeRun(): void {
  const done = path.join(run, '.made');
  if (fs.existsSync(done)) return;
  const body = JSON.stringify({ tokens: Array.from({ length: 40 }, (_, i) => i * 7919) });
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(run, 'cache', `shard-${String(Math.floor(i / PER_DIR)).padStart(4, '0')}`);
    if (i % PER_DIR === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `item-${String(i).padStart(7, '0')}.json`), body);
  }
  fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: 1, global_step: 100 }));
  fs.writeFileSync(done, '');
}

async function capture(k: number, snapshotAt: string | undefined): Promise<{ peak: number; at: string; samples: string[] }> {
  const cfg = zeroConfig(run, store).runs[0]!;
  cfg.exclude = [...cfg.exclude, '.made'];
  const samples: string[] = [];
  let peak = 0;
  let at = '';
  const sample = (where: string): void => {
    const h = alive();
    samples.push(`${where} ${mb(h)}`);
    if (h > peak) {
      peak = h;
      at = where;
    }
    if (snapshotAt === where) v8.writeHeapSnapshot(path.join(base, `capture-${FILES}-${where.replace(' ', '-')}.heapsnapshot`));
  };
  const entries = await scanRun(cfg);
  sample('scanned');
  // As `captureSnapshot` reads it: beside the scan, sharing its strings (a build before that ignores `like`).
  const previous = await storeOf(store).newestGood({ like: entries });
  sample('previous read');
  bytesToCopy(entries, previous);
  let reports = 0;
  const t0 = performance.now();
  const meta = await writeSnapshot({
    store,
    runName: cfg.name,
    runDir: run,
    entries,
    kind: 'backup',
    trigger: 'capture-heap',
    progress: NO_PROGRESS,
    previous,
    now: Date.now() + k * 60_000,
    settleMs: 50,
    onProgress: () => {
      if (reports++ < 8) sample(`progress ${reports}`);
    },
    label: async (filesDir, captured) => {
      sample('labels');
      return { progress: NO_PROGRESS, modelType: await detectModelType(filesDir, captured) };
    },
  });
  const ms = performance.now() - t0;
  sample('written');
  samples.push(`(${meta.files.length} files, ${mb(meta.copied_bytes)} MB copied, ${(ms / 1000).toFixed(2)} s)`);
  return { peak, at, samples };
}

makeRun();
fs.mkdirSync(store, { recursive: true });
const baseline = alive();
console.log(`baseline heap ${mb(baseline)} MB`);
if ((await newestGoodSnapshot(store)) === null) {
  const first = await capture(0, undefined);
  console.log(`first snapshot: peak alive ${mb(first.peak)} MB at ${first.at}`);
}
for (let k = 1; k <= REPEAT; k++) {
  fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: 1 + k, global_step: 100 + k, at: Date.now() }));
  await new Promise((r) => setTimeout(r, 100));
  const c = await capture(k, k === REPEAT ? process.env.CAPTURE_HEAP_SNAPSHOT : undefined);
  const per = (c.peak - baseline) / FILES;
  console.log(`change ${k}: peak alive ${mb(c.peak)} MB at ${c.at}: ${(c.peak / FILES).toFixed(0)} B/file (${per.toFixed(0)} B/file above the baseline)`);
  console.log(`  ${c.samples.join(' | ')}`);
}
console.log(`process peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} MB`);
