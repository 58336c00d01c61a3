/** The daemon's start line says which progress source `auto` found, or that none was and what to write. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeEpoch } from '../../demo/fake-checkpoint.js';
import { startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('the start line', () => {
  it('names the source auto found, or says none was found and what to write', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    await writeEpoch(path.join(t.dir, 'hf'), 2, { stepsPerEpoch: 100, modelBytes: 1000, optimizerBytes: 1000 });
    fs.mkdirSync(path.join(t.dir, 'loop'));
    fs.writeFileSync(path.join(t.dir, 'loop', 'model.pt'), 'weights');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'log: {format: json}\nruns:\n  - name: hf\n    path: ./hf\n  - name: loop\n    path: ./loop\n');

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const start = (run: string) => d.waitFor((l) => l.event === 'start' && l.run === run, 20_000, `start of ${run}`);
    expect((await start('hf')).message).toMatch(/; progress: auto found hf \(epoch 2, step 200, loss [\d.]+\)$/);
    expect((await start('loop')).message).toMatch(
      /; progress: auto found nothing: epochs and steps stay unknown; set progress: \{file: metrics\.json, step: step\} for a file the training script writes, or call `ckptd progress --step N` from the script$/,
    );
  }, 40_000);
});
