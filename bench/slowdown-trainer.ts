/**
 * The training loop of `npm run bench -- slowdown`: real arithmetic on every core, the way a
 * CPU-bound trainer keeps the machine busy. Each step loads a batch (reads 4 MiB of a dataset file
 * at a random offset), then each of `--threads` workers multiplies float64 matrices; the step ends
 * when the slowest worker does, so a core taken away from any worker shows in the step time.
 * Every `--checkpoint-every` steps the loop rewrites the run's changing files in place of a
 * `torch.save` (fresh random bytes, fsynced). Prints one JSON line per step:
 * `{"step": 12, "ms": 101.3, "checkpoint": false}`.
 *
 *   node dist/bench/slowdown-trainer.js --run DIR --dataset FILE --steps 300 --checkpoint-every 30 \
 *     --files checkpoint/model.safetensors=300000000,checkpoint/optimizer.pt=600000000 [--work 40]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { writeRandom } from './lib.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    dataset: { type: 'string' },
    steps: { type: 'string', default: '300' },
    'checkpoint-every': { type: 'string', default: '30' },
    files: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    work: { type: 'string', default: '40' },
  },
});
if (!values.run || !values.dataset) {
  process.stderr.write('usage: slowdown-trainer --run DIR --dataset FILE [--steps N] [--checkpoint-every K] [--files REL=BYTES,...] [--threads T] [--work N]\n');
  process.exit(2);
}
const run = values.run;
const steps = Number(values.steps);
const checkpointEvery = Number(values['checkpoint-every']);
const files = values.files
  .split(',')
  .filter(Boolean)
  .map((f) => f.split('=') as [string, string]);

/** Each worker: `work` products of two 96x96 float64 matrices per step. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const N = 96;
const a = new Float64Array(N * N).map((_, i) => (i % 7) / 7);
const b = new Float64Array(N * N).map((_, i) => (i % 5) / 5);
const c = new Float64Array(N * N);
parentPort.on('message', () => {
  let sum = 0;
  for (let r = 0; r < workerData.work; r++) {
    for (let i = 0; i < N; i++) for (let k = 0; k < N; k++) {
      const x = a[i * N + k];
      for (let j = 0; j < N; j++) c[i * N + j] += x * b[k * N + j];
    }
    sum += c[r % (N * N)];
  }
  parentPort.postMessage(sum);
});
`;
const workers = Array.from({ length: Number(values.threads) }, () => new Worker(WORKER, { eval: true, workerData: { work: Number(values.work) } }));
const fd = fs.openSync(values.dataset, 'r');
const size = fs.fstatSync(fd).size;
const batch = Buffer.alloc(4 << 20);

for (let step = 1; step <= steps; step++) {
  const t0 = performance.now();
  fs.readSync(fd, batch, 0, batch.length, Math.floor(Math.random() * Math.max(1, size - batch.length)));
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.once('message', resolve), w.postMessage(step)))));
  const checkpoint = step % checkpointEvery === 0;
  if (checkpoint) for (const [rel, bytes] of files) writeRandom(path.join(run, rel), Number(bytes));
  process.stdout.write(`${JSON.stringify({ step, ms: performance.now() - t0, checkpoint })}\n`);
}
fs.closeSync(fd);
await Promise.all(workers.map((w) => w.terminate()));
