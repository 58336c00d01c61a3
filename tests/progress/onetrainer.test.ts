import { describe, expect, it } from 'vitest';
import { parseOneTrainerName } from '../../src/progress/preset-onetrainer.js';
import { preset, progressOf, put, tempRun } from './fixtures.js';

const OT = preset('onetrainer');

/** The meta.json OneTrainer's InternalModelSaverMixin writes into every backup folder. */
function meta(epoch: number, epochStep: number, epochSample: number, globalStep: number): string {
  return JSON.stringify({
    train_progress: { epoch, epoch_step: epochStep, epoch_sample: epochSample, global_step: globalStep },
    last_action_epoch: { backup: epoch, save: epoch },
  });
}

/** A backup folder as OneTrainer's GenericTrainer.__backup writes it (internal model format). */
function backup(run: string, name: string, m: string | null, minute: number): void {
  put(run, `workspace/backup/${name}/model/adapter_model.safetensors`, 'lora', minute);
  put(run, `workspace/backup/${name}/optimizer/optimizer.pt`, 'opt', minute);
  put(run, `workspace/backup/${name}/onetrainer_config/args.json`, '{}', minute);
  if (m !== null) put(run, `workspace/backup/${name}/meta.json`, m, minute);
}

describe('parseOneTrainerName', () => {
  it.each([
    ['2024-05-01_10-00-00-backup-500-1-100', { kind: 'backup', step: 500, epoch: 1, epochStep: 100 }],
    ['2024-05-01_10-30-00-save-750-1-350.safetensors', { kind: 'save', step: 750, epoch: 1, epochStep: 350 }],
    ['mylora-2024-05-01_11-30-00-save-1200-2-400.safetensors', { kind: 'save', step: 1200, epoch: 2, epochStep: 400 }],
    ['2024-05-01_11-30-00-save-1200-2-400', { kind: 'save', step: 1200, epoch: 2, epochStep: 400 }],
  ])('%s', (name, expected) => {
    expect(parseOneTrainerName(name)).toEqual(expected);
  });

  it.each(['2024-05-01_10-00-00-training-sample-500-1-100.png', 'backup-500-1-100', '2024-05-01_10-00-00-backup-500-1', 'config.json'])(
    '%s is not a backup or save',
    (name) => {
      expect(parseOneTrainerName(name)).toBeNull();
    },
  );
});

describe('onetrainer preset', () => {
  it('reads the backup furthest along, with meta.json train_progress', async () => {
    const run = await tempRun();
    backup(run, '2024-05-01_10-00-00-backup-500-1-100', meta(1, 100, 400, 500), 10);
    backup(run, '2024-05-01_11-00-00-backup-1000-2-200', meta(2, 200, 800, 1000), 20);
    put(run, 'workspace/save/2024-05-01_10-30-00-save-750-1-350.safetensors', 'lora', 15);
    put(run, 'workspace/samples/0 - a photo of sks dog/2024-05-01_11-00-00-training-sample-1000-2-200.png', 'png', 21);
    put(run, 'workspace/config/2024-05-01_09-59-00.json', '{}', 1);
    expect(await progressOf(run, OT)).toEqual({
      epoch: 2,
      step: 1000,
      loss: null,
      metrics: { epoch_step: 200, epoch_sample: 800 },
      source: 'onetrainer',
    });
  });

  it('reads a save that is further along than every backup', async () => {
    const run = await tempRun();
    backup(run, '2024-05-01_11-00-00-backup-1000-2-200', meta(2, 200, 800, 1000), 20);
    put(run, 'workspace/save/mylora2024-05-01_11-30-00-save-1200-2-400.safetensors', 'lora', 30);
    expect(await progressOf(run, OT)).toEqual({ epoch: 2, step: 1200, loss: null, metrics: { epoch_step: 400 }, source: 'onetrainer' });
  });

  it('reads a diffusers save, which is a folder', async () => {
    const run = await tempRun();
    put(run, 'save/2024-05-01_11-30-00-save-1500-3-0/unet/diffusion_pytorch_model.safetensors', 'w');
    put(run, 'save/2024-05-01_11-30-00-save-1500-3-0/model_index.json', '{}');
    const p = await progressOf(run, OT);
    expect([p.step, p.epoch]).toEqual([1500, 3]);
  });

  it('keeps the name values when meta.json is malformed or missing', async () => {
    const run = await tempRun();
    backup(run, '2024-05-01_11-00-00-backup-1000-2-200', '{"train_progress": ', 20);
    expect((await progressOf(run, OT)).step).toBe(1000);
    const run2 = await tempRun();
    backup(run2, '2024-05-01_11-00-00-backup-1000-2-200', null, 20);
    expect((await progressOf(run2, OT)).metrics).toEqual({ epoch_step: 200 });
  });

  it('yields nothing for a workspace without backups or saves', async () => {
    const run = await tempRun();
    put(run, 'workspace/samples/0 - dog/2024-05-01_11-00-00-training-sample-1000-2-200.png', 'png');
    put(run, 'workspace/tensorboard/2024-05-01_10-00-00/events.out.tfevents.1', 'tb');
    expect((await progressOf(run, OT)).source).toBeNull();
  });
});
