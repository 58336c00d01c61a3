import { describe, expect, it } from 'vitest';
import { hfCheckpointsInProgress } from '../../src/policy/saves-in-progress.js';

const done = (dir: string): string[] => [`${dir}/model.safetensors`, `${dir}/optimizer.pt`, `${dir}/trainer_state.json`];

describe('hfCheckpointsInProgress', () => {
  it('names the checkpoint folders without their trainer_state.json, at any depth', () => {
    const files = [...done('checkpoint-1'), 'checkpoint-2/model.safetensors', 'runs/a/checkpoint-7/model-00001-of-00002.safetensors', 'train.log'];
    expect(hfCheckpointsInProgress(files, 'hf')).toEqual(['checkpoint-2', 'runs/a/checkpoint-7']);
  });

  it('counts a DeepSpeed global_stepN folder as part of its checkpoint', () => {
    const files = ['checkpoint-5/global_step5/mp_rank_00_model_states.pt', 'checkpoint-5/latest'];
    expect(hfCheckpointsInProgress(files, 'hf')).toEqual(['checkpoint-5']);
    expect(hfCheckpointsInProgress([...files, 'checkpoint-5/trainer_state.json'], 'hf')).toEqual([]);
  });

  it('does not take a trainer_state.json deeper down, or other folder names, as the checkpoint\'s', () => {
    expect(hfCheckpointsInProgress(['checkpoint-3/sub/trainer_state.json', 'checkpoint-3/model.safetensors'], 'hf')).toEqual(['checkpoint-3']);
    expect(hfCheckpointsInProgress(['checkpoint-final/model.safetensors', 'checkpoint_4/model.pt', 'checkpoint-4'], 'hf')).toEqual([]);
  });

  it('under auto, holds back nothing until some checkpoint folder shows the Trainer\'s layout', () => {
    expect(hfCheckpointsInProgress(['checkpoint-2/model.safetensors'], 'auto')).toEqual([]);
    expect(hfCheckpointsInProgress([...done('checkpoint-1'), 'checkpoint-2/model.safetensors'], 'auto')).toEqual(['checkpoint-2']);
  });
});
