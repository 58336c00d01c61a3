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
