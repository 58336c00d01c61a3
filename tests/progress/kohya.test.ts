import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKohyaName } from '../../src/progress/kohya-saves.js';
import { preset, progressOf, put, tempRun, touch } from './fixtures.js';
import { writeKohyaRun, writeKohyaState, type KohyaRun } from './kohya-writer.js';

const KOHYA = preset('kohya');

/** `train_network.py --output_name mylora --save_every_n_epochs 1 --save_state`, 60 steps an epoch. */
const LORA: KohyaRun = {
  dir: 'output',
  name: 'mylora',
  stepsPerEpoch: 60,
  epochs: 10,
  everyEpochs: 1,
  everySteps: null,
  saveState: true,
  trainStateJson: true,
  startMinute: 1,
};

const values = async (run: string): Promise<[number | null, number | null]> => {
  const p = await progressOf(run, KOHYA);
  return [p.epoch, p.step];
};

describe('parseKohyaName', () => {
  it.each([
    ['mylora-000005', { name: 'mylora', kind: 'epoch', n: 5 }],
    ['my-lora-v2-000012', { name: 'my-lora-v2', kind: 'epoch', n: 12 }],
    ['epoch-000001', { name: 'epoch', kind: 'epoch', n: 1 }],
    ['mylora-step00001000', { name: 'mylora', kind: 'step', n: 1000 }],
    ['at-step00000250', { name: 'at', kind: 'step', n: 250 }],
    ['mylora-000005-state', { name: 'mylora', kind: 'epoch-state', n: 5 }],
    ['mylora-step00001000-state', { name: 'mylora', kind: 'step-state', n: 1000 }],
    ['mylora-state', { name: 'mylora', kind: 'last-state', n: null }],
    ['last-state', { name: 'last', kind: 'last-state', n: null }],
  ])('%s', (name, expected) => {
    expect(parseKohyaName(name)).toEqual(expected);
  });

  it.each(['mylora', 'model-00001-of-00002', 'mylora-00005', 'mylora-step1000', '000005', '-000005', '-state'])('%s is not a kohya progress name', (name) => {
    expect(parseKohyaName(name)).toBeNull();
  });
});

describe('kohya preset: train_network.py', () => {
  it('reads epoch and step from the newest state: an epoch-end state holds the finished epoch', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, killedAfterStep: 150 });
    put(run, 'output/sample/mylora_e000002_00_20250101000300.png', 'png', 3);
    put(run, 'log/mylora20250101000000/network_train/events.out.tfevents.1735689600.host.1.0', 'tb', 4);
    expect(await progressOf(run, KOHYA)).toEqual({ epoch: 2, step: 120, loss: null, metrics: {}, source: 'kohya' });
  });

  it('a mid-epoch -stepNNNNNNNN-state holds the epoch in progress: 2 finished, not 3', async () => {
    const run = await tempRun();
    // Saves at steps 50, 100, 150 and after epochs 1 (step 60) and 2 (step 120); killed in epoch 3.
    writeKohyaRun(run, { ...LORA, everySteps: 50, killedAfterStep: 170 });
    expect(await values(run)).toEqual([2, 150]);
  });

  it('saving by steps only: the finished epochs come from the step state', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, everyEpochs: null, everySteps: 100, killedAfterStep: 250 });
    // Step 200 is in epoch 4 (181-240): 3 epochs finished.
    expect(await values(run)).toEqual([3, 200]);
  });

  it('the final epoch is saved as plain NAME.safetensors: NAME-state says it', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, epochs: 4 });
    expect(await values(run)).toEqual([4, 240]);
  });

  it('without --save_state, the final NAME.safetensors says the last epoch and step in its metadata', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, epochs: 4, saveState: false });
    // ss_epoch 4, ss_steps 240 in the final model: its name says neither.
    expect(await values(run)).toEqual([4, 240]);
  });

  it('with --no_metadata and no state, the last numbered epoch is what the names say', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, epochs: 4, saveState: false, noMetadata: true });
    expect(await values(run)).toEqual([3, null]);
  });

  it('a step save says in its metadata the epochs finished before it, which its name does not', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, everyEpochs: null, everySteps: 50, saveState: false, killedAfterStep: 160 });
    // mylora-step00000150 was saved during the third epoch (steps 121-180): 2 finished.
    expect(await values(run)).toEqual([2, 150]);
  });

  it('in a kohya_ss project folder (img/, log/, model/), only model files and folders count', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, dir: 'model', killedAfterStep: 150 });
    put(run, 'img/10_sks dog/photo-000120.jpg', 'jpg', 60);
    put(run, 'img/10_sks dog/photo-000120.txt', 'sks dog', 60);
    put(run, 'model/mylora_20250101-000000.toml', 'output_name = "mylora"', 0);
    expect(await values(run)).toEqual([2, 120]);
  });

  it('chooses states by their number when all saves share one mtime (a coarse clock, an archive)', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, killedAfterStep: 150 });
    for (const rel of fs.readdirSync(run, { recursive: true, encoding: 'utf8' })) touch(path.join(run, rel), 50);
    expect(await values(run)).toEqual([2, 120]);
  });

  it('without --output_name: epoch-NNNNNN, at-stepNNNNNNNN, last-state and last.safetensors are one run', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, name: null, epochs: 3, everySteps: 50 });
    expect(await values(run)).toEqual([3, 180]);
    const run2 = await tempRun();
    writeKohyaRun(run2, { ...LORA, name: null, everySteps: 50, killedAfterStep: 170 });
    expect(await values(run2)).toEqual([2, 150]);
  });
});

describe('kohya preset: earlier runs in the same output_dir', () => {
  it('ignores an earlier run with another --output_name (read 2, not its 8)', async () => {
    const run = await tempRun();
    // 9 epochs, --save_last_n_epochs 2, no state: oldchar-000007, -000008 and oldchar.safetensors stay.
    writeKohyaRun(run, { ...LORA, name: 'oldchar', epochs: 9, lastEpochs: 2, saveState: false });
    writeKohyaRun(run, { ...LORA, name: 'newchar', saveState: false, startMinute: 100, killedAfterStep: 130 });
    // newchar-000002's metadata adds the step (ss_steps 120).
    expect(await values(run)).toEqual([2, 120]);
  });

  it('ignores the leftovers of an earlier run of the same name that was stopped', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, saveState: false, killedAfterStep: 500 });
    // The same command again: mylora-000001 and -000002 are written anew, -000003 … -000008 are the old run's.
    writeKohyaRun(run, { ...LORA, saveState: false, startMinute: 100, killedAfterStep: 130 });
    expect(await values(run)).toEqual([2, 120]);
  });

  it('ignores an earlier finished run of the same name, its states and its final model', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, everySteps: 200 });
    writeKohyaRun(run, { ...LORA, startMinute: 100, killedAfterStep: 70 });
    expect(await values(run)).toEqual([1, 60]);
  });

  it('a run resumed from an earlier state reads on from there, not the abandoned later saves', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, killedAfterStep: 500 });
    // --resume output/mylora-000002-state: epochs 3 and 4 written again, 5 … 8 left from before.
    for (const epoch of [3, 4]) {
      put(run, `output/mylora-00000${epoch}.safetensors`, 'lora', 100 + epoch);
      writeKohyaState(run, `output/mylora-00000${epoch}-state`, `{"current_epoch": ${epoch}, "current_step": ${epoch * 60}}`, 100 + epoch);
    }
    expect(await values(run)).toEqual([4, 240]);
  });
});

describe('kohya preset: scripts without train_state.json (sdxl_train.py, fine_tune.py, train_db.py)', () => {
  it('reads the numbers in the names of models and states', async () => {
    const run = await tempRun();
    writeKohyaRun(run, { ...LORA, name: 'mymodel', trainStateJson: false, everySteps: 50, killedAfterStep: 170 });
    expect(await values(run)).toEqual([2, 150]);
  });

  it('reads epoch-numbered diffusers folders', async () => {
    const run = await tempRun();
    put(run, 'mymodel-000003/unet/diffusion_pytorch_model.safetensors', 'w');
    put(run, 'mymodel-000003/model_index.json', '{}');
    expect((await progressOf(run, KOHYA)).epoch).toBe(3);
  });
});

describe('kohya preset: damaged or missing files', () => {
  it('ignores a malformed train_state.json but keeps the names', async () => {
    const run = await tempRun();
    put(run, 'mylora-step00001000.safetensors', 'w', 1);
    put(run, 'mylora-step00001000-state/train_state.json', '{"current_epoch": ', 1);
    expect(await progressOf(run, KOHYA)).toEqual({ epoch: null, step: 1000, loss: null, metrics: {}, source: 'kohya' });
  });

  it('yields nothing for only a final model', async () => {
    const run = await tempRun();
    put(run, 'mylora.safetensors', 'w');
    expect((await progressOf(run, KOHYA)).source).toBeNull();
  });
});
