import { describe, expect, it } from 'vitest';
import { parseKohyaName } from '../../src/progress/preset-kohya.js';
import { preset, progressOf, put, tempRun } from './fixtures.js';

const KOHYA = preset('kohya');

describe('parseKohyaName', () => {
  it.each([
    ['mylora-000005', { epoch: 5 }],
    ['my-lora-v2-000012', { epoch: 12 }],
    ['epoch-000001', { epoch: 1 }],
    ['mylora-step00001000', { step: 1000 }],
    ['at-step00000250', { step: 250 }],
    ['mylora-000005-state', { epoch: 5 }],
    ['mylora-step00001000-state', { step: 1000 }],
  ])('%s', (name, expected) => {
    expect(parseKohyaName(name)).toEqual(expected);
  });

  it.each(['mylora', 'mylora-state', 'model-00001-of-00002', 'mylora-00005', 'mylora-step1000', '000005', '-000005'])('%s is not a kohya progress name', (name) => {
    expect(parseKohyaName(name)).toBeNull();
  });
});

describe('kohya preset', () => {
  it('reads the highest epoch and step from sd-scripts output names', async () => {
    const run = await tempRun();
    put(run, 'output/mylora-000001.safetensors', 'w', 1);
    put(run, 'output/mylora-000002.safetensors', 'w', 2);
    put(run, 'output/mylora-step00000500.safetensors', 'w', 3);
    put(run, 'output/mylora-step00000250.safetensors', 'w', 1);
    put(run, 'output/mylora.safetensors', 'w', 4);
    put(run, 'output/sample/mylora_e000002_00_20250101000200.png', 'png', 2);
    put(run, 'log/mylora20250101000000/network_train/events.out.tfevents.1', 'tb', 4);
    expect(await progressOf(run, KOHYA)).toEqual({ epoch: 2, step: 500, loss: null, metrics: {}, source: 'kohya' });
  });

  it('reads train_state.json of --save_state folders', async () => {
    const run = await tempRun();
    put(run, 'mylora-000002.safetensors', 'w', 2);
    put(run, 'mylora-000002-state/model.safetensors', 'w', 2);
    put(run, 'mylora-000002-state/optimizer.bin', 'w', 2);
    put(run, 'mylora-000002-state/train_state.json', '{"current_epoch": 2, "current_step": 620}', 2);
    expect(await progressOf(run, KOHYA)).toEqual({ epoch: 2, step: 620, loss: null, metrics: {}, source: 'kohya' });
  });

  it('reads epoch-numbered diffusers folders', async () => {
    const run = await tempRun();
    put(run, 'mymodel-000003/unet/diffusion_pytorch_model.safetensors', 'w');
    expect((await progressOf(run, KOHYA)).epoch).toBe(3);
  });

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
