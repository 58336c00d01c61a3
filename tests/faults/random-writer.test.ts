/**
 * The capture promise under a hostile, randomized writer (issue 11, "Done when"): a child process
 * rewrites files in place in pieces with pauses while holding them open, truncates and rewrites
 * them as `torch.save` does, renames new versions into place, swaps a folder of the run for a
 * symlink to a folder outside it and back, and bumps the epoch in `progress.json` after each
 * generation. Meanwhile at least 200 snapshots are taken by the same path `ckptd snapshot` uses
 * (wait until settled, then capture). Every stored file must be a whole version the writer
 * finished (never torn), every snapshot's label must be the epoch its own `progress.json` holds
 * (never mislabelled), and no byte from outside the run may be stored.
 *
 * The writer's moves come from a seeded generator; the seed is printed, and
 * `CKPTD_FAULT_SEED=<seed> npx vitest run tests/faults/random-writer.test.ts` replays the same moves
 * (their timing against the captures still varies from run to run).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import type { RunConfig } from '../../src/config/types.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { waitForSettled } from '../../src/ops/settle.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { listSnapshots } from '../../src/store/read-store.js';
import type { Logger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/daemon-process.js';
import { trainerFileProblem } from '../helpers/fault-trainer.js';

const CAPTURES = Number(process.env.CKPTD_FAULT_CAPTURES ?? 200);
const SECRET = 'OUTSIDE-SECRET';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/**
 * The writer: generation after generation, each file in the format `trainerFileProblem` checks
 * (header `CKPTD-FAULT <name> gen=<n> size=<bytes>`, then one fill byte), with random moves.
 */
const WRITER = `
const fs = require('node:fs');
const path = require('node:path');
const [dir, outside, seedText] = process.argv.slice(1);
let a = Number(seedText) >>> 0;
const rand = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (n) => Math.floor(rand() * n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const content = (name, size, gen) => {
  const buf = Buffer.alloc(size, (gen % 250) + 1);
  buf.write('CKPTD-FAULT ' + name + ' gen=' + gen + ' size=' + size + '\\n');
  return buf;
};
const sub = path.join(dir, 'sub');
// Moved out of the run while a symlink stands in for it (inside, it would be a real folder of the run).
const away = path.join(path.dirname(dir), 'sub-away');
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });

/** Writes buf over file in 2-4 pieces with pauses between them, the file open all along. */
async function inPlace(file, buf, truncate) {
  const fd = fs.openSync(file, truncate ? 'w' : (fs.existsSync(file) ? 'r+' : 'w'));
  try {
    const pieces = 2 + pick(2);
    const step = Math.ceil(buf.length / pieces);
    for (let off = 0; off < buf.length; off += step) {
      fs.writeSync(fd, buf, off, Math.min(step, buf.length - off), off);
      await sleep(pick(40));
    }
    fs.ftruncateSync(fd, buf.length);
  } finally {
    fs.closeSync(fd);
  }
}

(async () => {
  fs.mkdirSync(sub, { recursive: true });
  for (let gen = 1; !stopping; gen++) {
    const ckptSize = (100 << 10) + pick(3 << 19);
    await inPlace(path.join(dir, 'ckpt.pt'), content('ckpt.pt', ckptSize, gen), rand() < 0.5);
    if (rand() < 0.5) {
      const tmp = path.join(dir, 'optim.bin.tmp');
      fs.writeFileSync(tmp, content('optim.bin', (64 << 10) + pick(1 << 20), gen));
      fs.renameSync(tmp, path.join(dir, 'optim.bin'));
    }
    if (rand() < 0.5 && fs.existsSync(path.join(sub, 'state.bin'))) {
      // The folder becomes a symlink out of the run for a moment, then comes back.
      fs.renameSync(sub, away);
      fs.symlinkSync(outside, sub);
      await sleep(pick(40));
      fs.unlinkSync(sub);
      fs.renameSync(away, sub);
    }
    await inPlace(path.join(sub, 'state.bin'), content('sub/state.bin', (16 << 10) + pick(256 << 10), gen), rand() < 0.3);
    await inPlace(path.join(dir, 'progress.json'), Buffer.from(JSON.stringify({ epoch: gen }) + ' '.repeat(pick(8))), true);
    process.stdout.write(gen + '\\n');
    // Sometimes quiet for a while (the state settles), sometimes straight on.
    await sleep(rand() < 0.7 ? 80 + pick(170) : pick(10));
  }
})();
`;

function runConfig(run: string, store: string): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return {
    ...c,
    settleMs: 30,
    progress: { kind: 'file', file: 'progress.json', epoch: 'epoch', step: null, loss: null, metrics: {} },
    retention: { ...c.retention, minFreeBytes: 0 },
  };
}

/** Every file under `dir` (a snapshot's files/), following nothing. */
function storedFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) out.push(...storedFiles(dir, r));
    else if (d.isFile()) out.push(r);
  }
  return out;
}

describe('captures against a randomized in-place writer', () => {
  it(`takes ${CAPTURES} snapshots: 0 torn, 0 mislabelled, 0 read from outside the run`, async () => {
    const seed = Number(process.env.CKPTD_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`random-writer seed ${seed} (replay: CKPTD_FAULT_SEED=${seed})`);
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    const outside = path.join(t.dir, 'outside');
    fs.mkdirSync(run);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'state.bin'), `CKPTD-FAULT OUTSIDE gen=0 size=64\n${SECRET}`.padEnd(64, '!'));
    const cfg = runConfig(run, path.join(t.dir, 'store'));

    const writer = spawn(process.execPath, ['-e', WRITER, run, outside, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => writer.on('exit', () => r()));
    cleanups.push(async () => {
      if (writer.exitCode === null) writer.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((r) => writer.stdout!.once('data', () => r()));

    const problems: string[] = [];
    let skippedFiles = 0;
    for (let i = 0; i < CAPTURES; i++) {
      const t0 = Date.now();
      // Half the captures start as \`ckptd snapshot\` does, once settled; half at any moment, so
      // the capture's own checks must hold off a file the writer holds open or just changed.
      const entries = i % 2 === 0 ? await waitForSettled(cfg, 30_000, () => undefined) : await scanRun(cfg);
      const t1 = Date.now();
      const meta = await captureSnapshot(cfg, entries, { kind: 'manual', trigger: 'manual', progress: NO_PROGRESS, now: Date.now(), retry: { retries: 3, delayMs: 20 } }, quiet);
      skippedFiles += meta.skipped.length;
      if (process.env.CKPTD_FAULT_DEBUG) console.log(`${i}: settle ${t1 - t0}ms capture ${Date.now() - t1}ms epoch ${meta.epoch} skipped ${JSON.stringify(meta.skipped)}`);
      const where = `seed ${seed}, snapshot ${i} (${meta.id})`;
      for (const rel of storedFiles(meta.path)) {
        const file = path.join(meta.path, rel);
        if (fs.readFileSync(file).includes(SECRET)) problems.push(`${where}: ${rel} holds bytes from outside the run`);
        if (rel === 'progress.json') continue;
        const p = trainerFileProblem(file, rel);
        if (p !== null) problems.push(`${where}: ${p} (stored ${fs.statSync(file).size} bytes; manifest ${JSON.stringify(meta.files.find((f) => f.path === rel))})`);
      }
      const progressFile = path.join(meta.path, 'progress.json');
      const stored = fs.existsSync(progressFile) ? (JSON.parse(fs.readFileSync(progressFile, 'utf8')) as { epoch: number }).epoch : null;
      if (meta.epoch !== stored) problems.push(`${where}: labelled epoch ${meta.epoch}, its progress.json holds ${stored}`);
      // Only the newest two are kept: the next one links from them, older ones only cost disk.
      for (const old of (await listSnapshots(cfg.store)).slice(2)) fs.rmSync(path.join(cfg.store, 'snapshots', old.id), { recursive: true, force: true });
    }
    writer.kill('SIGTERM');
    console.log(`random-writer seed ${seed}: ${CAPTURES} captures, ${skippedFiles} files skipped as still changing, ${problems.length} problems`);
    expect(problems, `seed ${seed}`).toEqual([]);
    // Alone it takes about 40 s; beside the rest of the suite on two cores, up to twice that.
  }, 240_000);
});
