import { describe, expect, it } from 'vitest';
import { ACCELERATE_STATE, foldersInProgress, HF_CHECKPOINT, LIGHTNING_DEEPSPEED, LIGHTNING_FSDP, ONETRAINER_BACKUP } from '../../src/policy/saves-in-progress.js';

const hf = (files: string[], rule: 'all' | 'evident'): string[] => foldersInProgress(files, HF_CHECKPOINT, rule);

const done = (dir: string): string[] => [`${dir}/model.safetensors`, `${dir}/optimizer.pt`, `${dir}/trainer_state.json`];

describe('foldersInProgress: Hugging Face checkpoint-N/', () => {
  it('names the checkpoint folders without their trainer_state.json, at any depth', () => {
    const files = [...done('checkpoint-1'), 'checkpoint-2/model.safetensors', 'runs/a/checkpoint-7/model-00001-of-00002.safetensors', 'train.log'];
    expect(hf(files, 'all')).toEqual(['checkpoint-2', 'runs/a/checkpoint-7']);
  });

  it('counts a DeepSpeed global_stepN folder as part of its checkpoint', () => {
    const files = ['checkpoint-5/global_step5/mp_rank_00_model_states.pt', 'checkpoint-5/latest'];
    expect(hf(files, 'all')).toEqual(['checkpoint-5']);
    expect(hf([...files, 'checkpoint-5/trainer_state.json'], 'all')).toEqual([]);
  });

  it('does not take a trainer_state.json deeper down, or other folder names, as the checkpoint\'s', () => {
    expect(hf(['checkpoint-3/sub/trainer_state.json', 'checkpoint-3/model.safetensors'], 'all')).toEqual(['checkpoint-3']);
    expect(hf(['checkpoint-final/model.safetensors', 'checkpoint_4/model.pt', 'checkpoint-4'], 'all')).toEqual([]);
  });

  it('when the layout must be evident, holds back nothing until some checkpoint folder shows the Trainer\'s layout', () => {
    expect(hf(['checkpoint-2/model.safetensors'], 'evident')).toEqual([]);
    expect(hf([...done('checkpoint-1'), 'checkpoint-2/model.safetensors'], 'evident')).toEqual(['checkpoint-2']);
  });

  it('does not hold back a folder the trainer left half-saved once a later checkpoint beside it is complete', () => {
    // The trainer died saving checkpoint-500, resumed from 400 and has saved 600 since: 500 is
    // never finished, and must not keep every later backup incomplete.
    const files = [...done('checkpoint-400'), 'checkpoint-500/model.safetensors', ...done('checkpoint-600'), 'checkpoint-700/model.safetensors'];
    expect(hf(files, 'all')).toEqual(['checkpoint-700']);
    expect(hf(files, 'evident')).toEqual(['checkpoint-700']);
    // Until a later one is complete, it is the save in progress.
    expect(hf([...done('checkpoint-400'), 'checkpoint-500/model.safetensors'], 'all')).toEqual(['checkpoint-500']);
    // A complete checkpoint of another folder, or an older one, does not count.
    expect(hf(['a/checkpoint-5/model.safetensors', ...done('b/checkpoint-9'), ...done('a/checkpoint-3')], 'all')).toEqual(['a/checkpoint-5']);
  });
});

describe('foldersInProgress: accelerate *-state/ (kohya)', () => {
  it('names the state folders without random_states_0.pkl', () => {
    const files = [
      'lora-000001.safetensors',
      'lora-000001-state/train_state.json',
      'lora-000001-state/model.safetensors',
      'lora-000001-state/optimizer.bin',
      'lora-000001-state/random_states_0.pkl',
      'lora-000002-state/train_state.json',
      'lora-000002-state/model.safetensors',
    ];
    expect(foldersInProgress(files, ACCELERATE_STATE, 'all')).toEqual(['lora-000002-state']);
  });

  it('does not hold back a state folder left half-saved once a later one of the same name is complete', () => {
    const state = (dir: string): string[] => [`${dir}/model.safetensors`, `${dir}/random_states_0.pkl`];
    const files = ['lora-000002-state/model.safetensors', ...state('lora-000003-state'), 'lora-step00000500-state/model.safetensors', 'lora-state/model.safetensors'];
    expect(foldersInProgress(files, ACCELERATE_STATE, 'all')).toEqual(['lora-state', 'lora-step00000500-state']);
  });
});

describe('foldersInProgress: OneTrainer backup/<timestamp>-backup-<step>-<epoch>-<epoch step>/', () => {
  const backup = (stamp: string, step: number, files: string[]): string[] =>
    files.map((f) => `ws/backup/${stamp}-backup-${step}-0-${step}/${f}`);
  const whole = ['unet/diffusion_pytorch_model.safetensors', 'optimizer/optimizer.pt', 'ema/ema.pt', 'meta.json', 'onetrainer_config/args.json'];

  it('names the backups without meta.json, which the model saver writes after the model, optimizer and EMA', () => {
    const files = [...backup('2026-01-02_10-00-00', 100, whole), ...backup('2026-01-02_11-00-00', 200, ['unet/diffusion_pytorch_model.safetensors', 'optimizer/optimizer.pt'])];
    expect(foldersInProgress(files, ONETRAINER_BACKUP, 'all')).toEqual(['ws/backup/2026-01-02_11-00-00-backup-200-0-200']);
    // A meta.json deeper down is not the backup's; other names are not OneTrainer backups.
    expect(foldersInProgress([...backup('2026-01-02_12-00-00', 300, ['optimizer/meta.json']), 'ws/save/2026-01-02_12-00-00-save-300-0-300/model.safetensors', 'ws/my-backup-1/x.pt'], ONETRAINER_BACKUP, 'all')).toEqual([
      'ws/backup/2026-01-02_12-00-00-backup-300-0-300',
    ]);
  });

  it('does not hold back a half-saved backup once a later one (by the time in its name, as OneTrainer picks) is complete', () => {
    // Died saving at 11:00 (step 200); a new training in the workspace saved at step 50 since.
    const files = [...backup('2026-01-02_11-00-00', 200, ['optimizer/optimizer.pt']), ...backup('2026-01-03_09-00-00', 50, whole), ...backup('2026-01-03_10-00-00', 100, ['unet/x.safetensors'])];
    expect(foldersInProgress(files, ONETRAINER_BACKUP, 'all')).toEqual(['ws/backup/2026-01-03_10-00-00-backup-100-0-100']);
    expect(foldersInProgress(files.slice(0, 1), ONETRAINER_BACKUP, 'evident')).toEqual([]);
  });
});

describe('foldersInProgress: Lightning *.ckpt/ folders', () => {
  const ds = (dir: string): string[] => [`${dir}/checkpoint/mp_rank_00_model_states.pt`, `${dir}/checkpoint/zero_pp_rank_0_mp_rank_00_optim_states.pt`, `${dir}/zero_to_fp32.py`, `${dir}/latest`];
  const fsdp = (dir: string): string[] => [`${dir}/__0_0.distcp`, `${dir}/__1_0.distcp`, `${dir}/.metadata`, `${dir}/meta.pt`];

  it('names the DeepSpeed checkpoint folders without latest, and only those holding checkpoint/', () => {
    const files = [...ds('ck/epoch=0-step=100.ckpt'), ...ds('ck/epoch=1-step=200.ckpt').slice(0, 3), ...fsdp('ck/epoch=1-step=250.ckpt').slice(0, 2), 'ck/other.ckpt/weights.bin'];
    expect(foldersInProgress(files, LIGHTNING_DEEPSPEED, 'all')).toEqual(['ck/epoch=1-step=200.ckpt']);
    expect(foldersInProgress(ds('ck/epoch=1-step=200.ckpt').slice(0, 3), LIGHTNING_DEEPSPEED, 'evident')).toEqual([]);
  });

  it('names the FSDP sharded checkpoint folders without meta.pt, and only those holding .distcp shards', () => {
    const files = [...fsdp('ck/epoch=0-step=100.ckpt'), ...fsdp('ck/epoch=1-step=200.ckpt').slice(0, 3), ...ds('ck/epoch=1-step=250.ckpt').slice(0, 2), 'ck/other.ckpt/weights.bin'];
    expect(foldersInProgress(files, LIGHTNING_FSDP, 'all')).toEqual(['ck/epoch=1-step=200.ckpt']);
    expect(foldersInProgress(fsdp('ck/epoch=1-step=200.ckpt').slice(0, 3), LIGHTNING_FSDP, 'evident')).toEqual([]);
  });

  it('does not hold back a half-saved folder once a later epoch and step is complete', () => {
    // epoch=9 sorts after epoch=10 as text; by number it is the earlier one.
    const files = [...fsdp('epoch=9-step=900.ckpt').slice(0, 1), ...fsdp('epoch=10-step=1000.ckpt'), ...fsdp('epoch=11-step=1100.ckpt').slice(0, 1), ...fsdp('last.ckpt').slice(0, 1)];
    expect(foldersInProgress(files, LIGHTNING_FSDP, 'all')).toEqual(['epoch=11-step=1100.ckpt', 'last.ckpt']);
  });
});
