import { describe, expect, it } from 'vitest';
import { ACCELERATE_STATE, foldersInProgress, HF_CHECKPOINT } from '../../src/policy/saves-in-progress.js';

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
});
