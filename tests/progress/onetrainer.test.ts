import { describe, expect, it } from 'vitest';
import { parseOneTrainerName } from '../../src/progress/preset-onetrainer.js';
import { preset, progressOf, put, tempRun } from './fixtures.js';

const OT = preset('onetrainer');

/** `TrainProgress` as OneTrainer counts: `epoch` = finished epochs, `global_step` = batches. */
interface Progress {
  epoch: number;
  epochStep: number;
  epochSample: number;
  globalStep: number;
}

/** `TrainProgress.filename_string()`: `<global_step>-<epoch>-<epoch_step>`. */
const progressName = (p: Progress): string => `${p.globalStep}-${p.epoch}-${p.epochStep}`;

/** The meta.json `InternalModelSaverMixin._save_internal_data` writes (Python `json.dump` spacing). */
function meta(p: Progress): string {
  return `{"train_progress": {"epoch": ${p.epoch}, "epoch_step": ${p.epochStep}, "epoch_sample": ${p.epochSample}, "global_step": ${p.globalStep}}}`;
}

/**
 * A LoRA backup as `GenericTrainer.__backup` writes it into `<workspace>/backup/<timestamp>-backup-<progress>/`
 * (`LoRASaverMixin._save_internal`, `_save_internal_data`, `__save_backup_config`). `metaText`
 * replaces meta.json (null: none, as when the save failed part way).
 */
function backup(run: string, stamp: string, p: Progress, minute: number, metaText: string | null = meta(p)): void {
  const dir = `workspace/run/backup/${stamp}-backup-${progressName(p)}`;
  put(run, `${dir}/lora/lora.safetensors`, 'lora', minute);
  put(run, `${dir}/optimizer/optimizer.pt`, 'opt', minute);
  if (metaText !== null) put(run, `${dir}/meta.json`, metaText, minute);
  put(run, `${dir}/onetrainer_config/args.json`, '{\n    "workspace_dir": "workspace/run"\n}', minute);
  put(run, `${dir}/onetrainer_config/concepts.json`, '[]', minute);
  put(run, `${dir}/onetrainer_config/samples.json`, '[]', minute);
}

/** A save as `GenericTrainer.__save` names it: `<save_filename_prefix><timestamp>-save-<progress><ext>`. */
function save(run: string, prefix: string, stamp: string, p: Progress, minute: number): void {
  put(run, `workspace/run/save/${prefix}${stamp}-save-${progressName(p)}.safetensors`, 'lora', minute);
}

/** What every OneTrainer run writes when it starts: `__save_config_to_workspace` and the TensorBoard folder. */
function runStart(run: string, prefix: string, stamp: string, minute: number): void {
  put(run, `workspace/run/config/${prefix}${stamp}.json`, '{}', minute);
  put(run, `workspace/run/tensorboard/${prefix}${stamp}/events.out.tfevents.1714550400.host.1234.0`, 'tb', minute);
}

const at = (globalStep: number, epoch: number, epochStep: number): Progress => ({ epoch, epochStep, epochSample: epochStep * 4, globalStep });

describe('parseOneTrainerName', () => {
  it.each([
    ['2024-05-01_10-00-00-backup-500-1-100', { kind: 'backup', stamp: '2024-05-01_10-00-00', step: 500, epoch: 1, epochStep: 100 }],
    ['2024-05-01_10-30-00-save-750-1-350.safetensors', { kind: 'save', stamp: '2024-05-01_10-30-00', step: 750, epoch: 1, epochStep: 350 }],
    ['mylora-2024-05-01_11-30-00-save-1200-2-400.safetensors', { kind: 'save', stamp: '2024-05-01_11-30-00', step: 1200, epoch: 2, epochStep: 400 }],
    ['v22024-05-01_11-30-00-save-1200-2-400', { kind: 'save', stamp: '2024-05-01_11-30-00', step: 1200, epoch: 2, epochStep: 400 }],
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
  it('reads the newest backup, with meta.json train_progress', async () => {
    const run = await tempRun();
    runStart(run, '', '2024-05-01_09-59-00', 1);
    backup(run, '2024-05-01_10-00-00', at(500, 1, 100), 10);
    save(run, '', '2024-05-01_10-30-00', at(750, 1, 350), 15);
    backup(run, '2024-05-01_11-00-00', at(1000, 2, 200), 20);
    put(run, 'workspace/run/samples/0 - a photo of sks dog/2024-05-01_11-00-00-training-sample-1000-2-200.png', 'png', 21);
    expect(await progressOf(run, OT)).toEqual({
      epoch: 2,
      step: 1000,
      loss: null,
      metrics: { epoch_step: 200, epoch_sample: 800 },
      source: 'onetrainer',
    });
  });

  it('reads a save newer than every backup', async () => {
    const run = await tempRun();
    backup(run, '2024-05-01_11-00-00', at(1000, 2, 200), 20);
    save(run, 'mylora', '2024-05-01_11-30-00', at(1200, 2, 400), 30);
    expect(await progressOf(run, OT)).toEqual({ epoch: 2, step: 1200, loss: null, metrics: { epoch_step: 400 }, source: 'onetrainer' });
  });

  it('in a reused workspace, reads the new run by its timestamp, not the old run\'s higher step', async () => {
    const run = await tempRun();
    // The first run: saves every 1000 steps, rolling backups (3 kept) every 500.
    runStart(run, '', '2024-05-01_09-00-00', 0);
    for (const [i, step] of [1000, 2000, 3000, 4000, 5000].entries()) save(run, '', `2024-05-01_1${i}-00-00`, at(step, step / 1000, 0), 60 * (i + 1));
    backup(run, '2024-05-01_13-30-00', at(4500, 4, 500), 270);
    backup(run, '2024-05-01_14-00-00', at(5000, 5, 0), 300);
    // The next day a new run in the same workspace, not continued from the last backup: its first
    // backup prunes the old ones down to the 3 newest names (`__prune_backups`), so two stay.
    runStart(run, '', '2024-05-02_08-00-00', 1400);
    backup(run, '2024-05-02_08-30-00', at(200, 0, 200), 1430);
    expect(await progressOf(run, OT)).toEqual({ epoch: 0, step: 200, loss: null, metrics: { epoch_step: 200, epoch_sample: 800 }, source: 'onetrainer' });
  });

  it('goes by the timestamps in the names, not by mtimes (a workspace copied without its times)', async () => {
    const run = await tempRun();
    // Copied in name order: the old run's files got the later mtimes.
    backup(run, '2024-05-02_08-30-00', at(200, 0, 200), 1);
    backup(run, '2024-05-01_14-00-00', at(5000, 5, 0), 2);
    save(run, '', '2024-05-01_14-00-00', at(5000, 5, 0), 3);
    expect((await progressOf(run, OT)).step).toBe(200);
  });

  it('reads a diffusers save, which is a folder', async () => {
    const run = await tempRun();
    put(run, 'workspace/run/save/2024-05-01_11-30-00-save-1500-3-0/unet/diffusion_pytorch_model.safetensors', 'w');
    put(run, 'workspace/run/save/2024-05-01_11-30-00-save-1500-3-0/model_index.json', '{}');
    const p = await progressOf(run, OT);
    expect([p.step, p.epoch]).toEqual([1500, 3]);
  });

  it('keeps the name values when meta.json is malformed or missing', async () => {
    const run = await tempRun();
    backup(run, '2024-05-01_11-00-00', at(1000, 2, 200), 20, '{"train_progress": ');
    expect((await progressOf(run, OT)).step).toBe(1000);
    const run2 = await tempRun();
    backup(run2, '2024-05-01_11-00-00', at(1000, 2, 200), 20, null);
    expect((await progressOf(run2, OT)).metrics).toEqual({ epoch_step: 200 });
  });

  it('yields nothing for a workspace without backups or saves', async () => {
    const run = await tempRun();
    runStart(run, '', '2024-05-01_10-00-00', 0);
    put(run, 'workspace/run/samples/0 - dog/2024-05-01_11-00-00-training-sample-1000-2-200.png', 'png');
    expect((await progressOf(run, OT)).source).toBeNull();
  });
});
