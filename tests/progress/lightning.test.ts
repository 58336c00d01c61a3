import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLightningName, readLightning } from '../../src/progress/preset-lightning.js';
import { memoryView, preset, progressOf, put, tempRun } from './fixtures.js';

const LIGHTNING = preset('lightning');

/**
 * A checkpoint written by `fixtures/make_lightning_ckpts.py`, byte for byte what Lightning's
 * `torch.save` writes (see there): `lightning_logs/version_0` (an earlier run that went on to 10
 * epochs), `lightning_logs/version_1` (the current run, 8 epochs done, `save_top_k=2`), `steps/`
 * (`every_n_train_steps=50`, 100 steps an epoch) and `val/` (saved at the epoch's last validation).
 */
const ckpt = (rel: string): Buffer => fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/lightning', rel));

/**
 * What `Trainer(max_epochs=10)` with `ModelCheckpoint(monitor="val_loss", save_top_k=2,
 * save_last=True)` leaves in `default_root_dir`: `version_0`, an earlier run that finished its 10
 * epochs, and `version_1`, the current run after 8 epochs, whose best val_loss came at epochs 3
 * and 4 (0-based names 2 and 3) and whose `last.ckpt` holds epoch 7, step 800.
 */
function makeTopKRun(run: string, { withOldRun = true } = {}): void {
  if (withOldRun) {
    put(run, 'lightning_logs/version_0/hparams.yaml', 'lr: 0.001\n', 0);
    for (const [name, minute] of [['epoch=8-step=900.ckpt', 90], ['epoch=9-step=1000.ckpt', 100], ['last.ckpt', 100]] as const) {
      put(run, `lightning_logs/version_0/checkpoints/${name}`, ckpt(`lightning_logs/version_0/checkpoints/${name}`), minute);
    }
    put(run, 'lightning_logs/version_0/events.out.tfevents.1735689600.host.1234.0', 'tb', 100);
  }
  put(run, 'lightning_logs/version_1/hparams.yaml', 'lr: 0.001\n', 200);
  for (const [name, minute] of [['epoch=2-step=300.ckpt', 230], ['epoch=3-step=400.ckpt', 240], ['last.ckpt', 280]] as const) {
    put(run, `lightning_logs/version_1/checkpoints/${name}`, ckpt(`lightning_logs/version_1/checkpoints/${name}`), minute);
  }
  put(run, 'lightning_logs/version_1/events.out.tfevents.1735701600.host.5678.0', 'tb', 280);
}

/** The `steps/` run up to `step` (50, 100, 150 or 200): one named file per save and last.ckpt. */
function makeStepsRun(run: string, upTo: number): void {
  for (const step of [50, 100, 150, 200].filter((s) => s <= upTo)) {
    const name = `epoch=${Math.floor((step - 1) / 100)}-step=${step}.ckpt`;
    put(run, `lightning_logs/version_0/checkpoints/${name}`, ckpt(`steps/version_0/checkpoints/${name}`), step);
  }
  put(run, 'lightning_logs/version_0/checkpoints/last.ckpt', ckpt(`steps/step-${upTo}-last.ckpt`), upTo);
}

/**
 * A DeepSpeed checkpoint folder at `rel` on 2 GPUs: the model states of the fixture
 * `deepspeed/<fixture>` (the `steps/` run's save of that name), `latest`, and each rank's optimizer
 * shard. ZeRO stage 3 names the model states per rank (deepspeed/runtime/engine.py:2819-2842
 * `_get_ckpt_name`), each holding the same checkpoint dict.
 */
function putDeepSpeed(run: string, rel: string, fixture: string, minute: number, stage: 2 | 3 = 2): void {
  const states = ckpt(`deepspeed/${fixture}/checkpoint/mp_rank_00_model_states.pt`);
  if (stage === 2) put(run, `${rel}/checkpoint/mp_rank_00_model_states.pt`, states, minute);
  for (const rank of [0, 1]) {
    if (stage === 3) put(run, `${rel}/checkpoint/zero_pp_rank_${rank}_mp_rank_00_model_states.pt`, states, minute);
    put(run, `${rel}/checkpoint/zero_pp_rank_${rank}_mp_rank_00_optim_states.pt`, 'x', minute);
  }
  put(run, `${rel}/latest`, 'checkpoint', minute);
}

/** The `steps/` run up to `step` with DeepSpeedStrategy: one folder per save, no last.ckpt. */
function makeDeepSpeedStepsRun(run: string, upTo: number): void {
  for (const step of [50, 100, 150, 200].filter((s) => s <= upTo)) {
    const name = `epoch=${Math.floor((step - 1) / 100)}-step=${step}.ckpt`;
    putDeepSpeed(run, `lightning_logs/version_0/checkpoints/${name}`, name, step);
  }
}

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
  it('reads finished epochs and the step from the checkpoint with the highest step', async () => {
    const run = await tempRun();
    put(run, 'lightning_logs/version_0/hparams.yaml', 'lr: 0.001\n', 1);
    put(run, 'lightning_logs/version_0/events.out.tfevents.1735689600.host.1234.0', 'tb', 9);
    put(run, 'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt', 'ckpt', 5);
    put(run, 'lightning_logs/version_0/checkpoints/epoch=3-step=400.ckpt', 'ckpt', 6);
    put(run, 'lightning_logs/version_0/checkpoints/last.ckpt', 'ckpt', 7);
    expect(await progressOf(run, LIGHTNING)).toEqual({ epoch: 4, step: 400, loss: null, metrics: {}, source: 'lightning' });
  });

  it('reads the Lightning name layout the brief names: checkpoints/epoch=3-step=400.ckpt', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=3-step=400.ckpt', 'ckpt');
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([4, 400]);
  });

  it('takes val_loss as the loss when there is no loss part, and keeps every part as a metric', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=4-step=500-val_loss=0.123-val_acc=0.9.ckpt', 'ckpt');
    expect(await progressOf(run, LIGHTNING)).toEqual({
      epoch: 5,
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

  it('reads DeepSpeed checkpoints, which are folders named like the file (model states it cannot read: the name + 1, an epoch-end save)', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/epoch=1-step=100.ckpt/checkpoint/mp_rank_00_model_states.pt', 'x');
    put(run, 'checkpoints/epoch=1-step=100.ckpt/latest', 'checkpoint');
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([2, 100]);
  });

  it.each([2, 3] as const)('DeepSpeed (ZeRO stage %i) + save_last: reads the last.ckpt folder, past the names of older saves', async (stage) => {
    // ModelCheckpoint._save_last_checkpoint saves `last.ckpt` through the strategy as it does the
    // others: with DeepSpeed a folder (model_checkpoint.py:259 CHECKPOINT_NAME_LAST, deepspeed.py:669).
    const run = await tempRun();
    const dir = 'lightning_logs/version_0/checkpoints';
    putDeepSpeed(run, `${dir}/epoch=0-step=50.ckpt`, 'epoch=0-step=50.ckpt', 50, stage);
    putDeepSpeed(run, `${dir}/last.ckpt`, 'epoch=1-step=150.ckpt', 150, stage);
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([1, 150]);
  });

  it("reads a sharded FSDP checkpoint folder's counters from its meta.pt: a save inside an epoch counts only the epochs before it", async () => {
    // lightning/pytorch/strategies/fsdp.py:580-592: a folder of `.distcp` shards, and `meta.pt`,
    // `_atomic_save` (torch.save) of the checkpoint dict without `state_dict` and
    // `optimizer_states`: `epoch`, `global_step`, `loops`, ... as in a `.ckpt`. Its bytes here are
    // those of the `steps/` run's save at step 50, half-way through the first epoch.
    const run = await tempRun();
    const dir = 'lightning_logs/version_0/checkpoints/epoch=0-step=50.ckpt';
    put(run, `${dir}/__0_0.distcp`, 'x');
    put(run, `${dir}/__1_0.distcp`, 'x');
    put(run, `${dir}/.metadata`, 'x');
    put(run, `${dir}/meta.pt`, ckpt('steps/version_0/checkpoints/epoch=0-step=50.ckpt'));
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([0, 50]);
  });

  it('save_top_k + save_last with sharded FSDP: reads the last.ckpt folder, past the best-k names', async () => {
    // With FSDPStrategy(state_dict_type="sharded") every checkpoint, last.ckpt too, is a folder of
    // shards and meta.pt (lightning/pytorch/strategies/fsdp.py:580-592); meta.pt's bytes here are
    // those of the top-k run's epoch=3-step=400.ckpt and last.ckpt (epoch 7, step 800).
    const run = await tempRun();
    const dir = 'lightning_logs/version_1/checkpoints';
    for (const [name, fixture, minute] of [['epoch=3-step=400.ckpt', 'epoch=3-step=400.ckpt', 240], ['last.ckpt', 'last.ckpt', 280]] as const) {
      put(run, `${dir}/${name}/__0_0.distcp`, 'x', minute);
      put(run, `${dir}/${name}/__1_0.distcp`, 'x', minute);
      put(run, `${dir}/${name}/meta.pt`, ckpt(`lightning_logs/version_1/checkpoints/${fixture}`), minute);
    }
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([8, 800]);
  });

  it('yields nothing for a run with only a last.ckpt that is not a torch.save zip', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/last.ckpt', 'ckpt');
    expect((await progressOf(run, LIGHTNING)).source).toBeNull();
  });
});

describe('lightning preset: epochs finished, the current run, last.ckpt', () => {
  it('counts finished epochs: the name of the checkpoint saved when the 4th epoch ends says epoch=3', async () => {
    const run = await tempRun();
    put(run, 'lightning_logs/version_1/checkpoints/epoch=3-step=400.ckpt', ckpt('lightning_logs/version_1/checkpoints/epoch=3-step=400.ckpt'));
    expect(await progressOf(run, LIGHTNING)).toEqual({ epoch: 4, step: 400, loss: null, metrics: {}, source: 'lightning' });
  });

  it('reads only the newest lightning_logs/version_N, not an older run that went further', async () => {
    const run = await tempRun();
    makeTopKRun(run);
    fs.rmSync(path.join(run, 'lightning_logs/version_1/checkpoints/last.ckpt'));
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([4, 400]);
  });

  it('save_top_k=2 + last.ckpt: reads epoch and global_step inside last.ckpt, past the best-k names', async () => {
    const run = await tempRun();
    makeTopKRun(run);
    expect(await progressOf(run, LIGHTNING)).toEqual({ epoch: 8, step: 800, loss: null, metrics: {}, source: 'lightning' });
    const single = await tempRun();
    makeTopKRun(single, { withOldRun: false });
    expect(await progressOf(single, LIGHTNING)).toEqual({ epoch: 8, step: 800, loss: null, metrics: {}, source: 'lightning' });
  });

  it('reads a run that has only last.ckpt', async () => {
    const run = await tempRun();
    put(run, 'checkpoints/last.ckpt', ckpt('lightning_logs/version_1/checkpoints/last.ckpt'), 5);
    expect(await progressOf(run, LIGHTNING)).toEqual({ epoch: 8, step: 800, loss: null, metrics: {}, source: 'lightning' });
  });

  it('a new version_N without checkpoints yet (a test run, a run just started) leaves the newest one that has some', async () => {
    const run = await tempRun();
    makeTopKRun(run);
    put(run, 'lightning_logs/version_2/hparams.yaml', 'lr: 0.001\n', 300);
    put(run, 'lightning_logs/version_2/events.out.tfevents.1735707600.host.9999.0', 'tb', 300);
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([8, 800]);
  });

  // With DeepSpeed (lightning/pytorch/strategies/deepspeed.py:667-674) each save is a folder whose
  // checkpoint/mp_rank_00_model_states.pt holds the checkpoint dict (without state_dict and
  // optimizer_states) after DeepSpeed's own keys; its `epoch`, `trainer.current_epoch`
  // (trainer/connectors/checkpoint_connector.py:446, trainer.py:1568-1570), is 1 for a save inside
  // the 2nd epoch (step 150, 100 steps an epoch): one epoch done, not two.
  it.each([
    ['.ckpt files and last.ckpt', makeStepsRun],
    ['DeepSpeed folders', makeDeepSpeedStepsRun],
  ])('every_n_train_steps, %s: a save inside an epoch counts the epochs before it, one on its last batch counts it', async (_, make) => {
    for (const [upTo, epoch] of [
      [50, 0],
      [100, 1],
      [150, 1],
      [200, 2],
    ] as const) {
      const run = await tempRun();
      make(run, upTo);
      const p = await progressOf(run, LIGHTNING);
      expect([upTo, p.epoch, p.step]).toEqual([upTo, epoch, upTo]);
    }
  });

  it('every_n_train_steps without last.ckpt: the newest named file is read the same way', async () => {
    const run = await tempRun();
    makeStepsRun(run, 150);
    fs.rmSync(path.join(run, 'lightning_logs/version_0/checkpoints/last.ckpt'));
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([1, 150]);
  });

  it('a save at the epoch\'s last validation (check_val_every_n_epoch=2) counts that epoch', async () => {
    const run = await tempRun();
    put(run, 'lightning_logs/version_0/checkpoints/epoch=3-step=400.ckpt', ckpt('val/version_0/checkpoints/epoch=3-step=400.ckpt'));
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([4, 400]);
  });

  it('a last.ckpt cut short or garbled is passed over for the names beside it', async () => {
    const run = await tempRun();
    makeTopKRun(run, { withOldRun: false });
    const last = path.join(run, 'lightning_logs/version_1/checkpoints/last.ckpt');
    fs.writeFileSync(last, ckpt('lightning_logs/version_1/checkpoints/last.ckpt').subarray(0, 2000));
    const p = await progressOf(run, LIGHTNING);
    expect([p.epoch, p.step]).toEqual([4, 400]);
  });

  it('reads last.ckpt from an in-memory view too (the view method every source uses)', async () => {
    const view = memoryView({ 'lightning_logs/version_1/checkpoints/last.ckpt': { bytes: ckpt('lightning_logs/version_1/checkpoints/last.ckpt'), minute: 3 } });
    expect(await readLightning(view)).toMatchObject({ epoch: 8, step: 800 });
  });
});
