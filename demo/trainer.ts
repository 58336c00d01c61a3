/**
 * The bundled demo trainer: writes a checkpoint every few seconds, epoch by epoch, the way a real
 * trainer does, so `npm start` shows ckptd at work.
 *
 *   node dist/demo/trainer.js --dir demo/run [--epochs 12] [--epoch-seconds 4] [--model-mb 8]
 */
import { parseArgs } from 'node:util';
import { writeEpoch } from './fake-checkpoint.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    epochs: { type: 'string', default: '12' },
    'epoch-seconds': { type: 'string', default: '4' },
    'model-mb': { type: 'string', default: '8' },
  },
});
if (!values.dir) {
  process.stderr.write('usage: trainer --dir DIR [--epochs N] [--epoch-seconds S] [--model-mb M]\n');
  process.exit(2);
}
const dir = values.dir;
const epochs = Number(values.epochs);
const epochMs = Number(values['epoch-seconds']) * 1000;
const modelBytes = Number(values['model-mb']) * 1_000_000;

let stop = false;
process.on('SIGINT', () => (stop = true));
process.on('SIGTERM', () => (stop = true));

for (let epoch = 1; epoch <= epochs && !stop; epoch++) {
  await new Promise((r) => setTimeout(r, epochMs));
  if (stop) break;
  const { step, loss } = await writeEpoch(dir, epoch, {
    stepsPerEpoch: 100,
    modelBytes,
    optimizerBytes: 2 * modelBytes,
    chunkPauseMs: 100,
  });
  process.stdout.write(`[trainer] epoch ${epoch}/${epochs} done: step ${step}, loss ${loss}; checkpoint written to ${dir}\n`);
}
process.stdout.write(stop ? '[trainer] interrupted\n' : '[trainer] training finished\n');
