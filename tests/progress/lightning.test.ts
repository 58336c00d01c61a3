import { describe, expect, it } from 'vitest';
import { parseLightningName, readLightning } from '../../src/progress/preset-lightning.js';
import { memoryView, preset, progressOf, put, tempRun } from './fixtures.js';

const LIGHTNING = preset('lightning');

describe('parseLightningName', () => {
  it.each([
    ['epoch=3-step=400.ckpt', { epoch: 3, step: 400 }],
    ['epoch=3-step=400-v1.ckpt', { epoch: 3, step: 400 }],
    ['epoch=4-step=500-val_loss=0.123.ckpt', { epoch: 4, step: 500, val_loss: 0.123 }],
    ['epoch=04-val_loss=0.12-val_acc=0.91.ckpt', { epoch: 4, val_loss: 0.12, val_acc: 0.91 }],
    ['epoch=05_val_loss=0.31.ckpt', { epoch: 5, val_loss: 0.31 }],
    ['step=1200.ckpt', { step: 1200 }],
    ['best-epoch=2-step=300-train_loss=-0.5.ckpt', { epoch: 2, step: 300, train_loss: -0.5 }],
    ['epoch=abc-step=1.ckpt', { step: 1 }],
  ])('%s', (name, expected) => {
    expect(parseLightningName(name)).toEqual(expected);
  });

  it.each(['last.ckpt', 'last-v1.ckpt', 'val_loss=0.12.ckpt', 'hparams.yaml', 'myepoch=3.ckpt', 'epoch=abc.ckpt'])(
    '%s is not a progress name',
    (name) => {
      expect(parseLightningName(name)).toBeNull();
    },
  );
});

describe('lightning preset', () => {
  it('reads epoch and step from the checkpoint with the highest step', async () => {
    const run = await tempRun();
    put(run, 'lightning_logs/version_0/hparams.yaml', 'lr: 0.001\n', 1);
    put(run, 'lightning_logs/version_0/events.out.tfevents.1735689600.host.1234.0', 'tb', 9);
    put(run, 'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt', 'ckpt', 5);
    put(run, 'lightning_logs/version_0/checkpoints/epoch=3-step=400.ckpt', 'ckpt', 6);
    put(run, 'lightning_logs/version_0/checkpoints/last.ckpt', 'ckpt', 7);
    expect(await progressOf(run, LIGHTNING)).toEqual({ epoch: 3, step: 400, loss: null, metrics: {}, source: 'lightning' });
  });

  it('reads the Lightning name layout the brief names: checkpoints/epoch=3-step=400.ckpt', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=3-step=400.ckpt', 'ckpt');
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([3, 400]);
  });

  it('takes val_loss as the loss when there is no loss part, and keeps every part as a metric', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=4-step=500-val_loss=0.123-val_acc=0.9.ckpt', 'ckpt');
    expect(await progressOf(run, LIGHTNING)).toEqual({
      epoch: 4,
      step: 500,
      loss: 0.123,
      metrics: { val_loss: 0.123, val_acc: 0.9 },
      source: 'lightning',
    });
  });

  it('prefers loss, then train_loss, over val_loss', async () => {
    const view = memoryView({ 'ckpt/epoch=1-step=10-val_loss=0.5-train_loss=0.4.ckpt': {} });
    expect((await readLightning(view))?.loss).toBe(0.4);
    const view2 = memoryView({ 'ckpt/epoch=1-step=10-val_loss=0.5-loss=0.3.ckpt': {} });
    const r = await readLightning(view2);
    expect(r?.loss).toBe(0.3);
    expect(r?.metrics).toEqual({ val_loss: 0.5 });
  });

  it('on equal steps, the newest file wins', async () => {
    const view = memoryView({
      'c/epoch=3-step=400-val_loss=0.9.ckpt': { minute: 1 },
      'c/epoch=3-step=400-val_loss=0.7-v1.ckpt': { minute: 2 },
    });
    expect((await readLightning(view))?.loss).toBe(0.7);
  });

  it('reads DeepSpeed checkpoints, which are folders named like the file', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=1-step=100.ckpt/checkpoint/mp_rank_00_model_states.pt', 'x');
    put(run, 'checkpoints/epoch=1-step=100.ckpt/latest', 'checkpoint');
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([1, 100]);
  });

  it('yields nothing for a run with only last.ckpt', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/last.ckpt', 'ckpt');
    expect((await progressOf(run, LIGHTNING)).source).toBeNull();
  });
});
