import { describe, expect, it } from 'vitest';
import { AUTO_ORDER } from '../../src/progress/presets.js';
import { putDflModel } from './dfl-fixtures.js';
import { AUTO, HF_STATE_500, makeHfRun, progressOf, put, tempRun } from './fixtures.js';

/** One small run folder per preset, shaped like that trainer's output. */
const LAYOUTS = {
  hf: (run: string) => makeHfRun(run),
  lightning: (run: string) => put(run, 'lightning_logs/version_0/checkpoints/epoch=3-step=400.ckpt', 'x'),
  keras: (run: string) => put(run, 'backup/training_metadata.json', '{"epoch": 4, "batch": 0}'),
  onetrainer: (run: string) => put(run, 'workspace/backup/2024-05-01_10-00-00-backup-500-1-100/meta.json', '{}'),
  kohya: (run: string) => put(run, 'output/mylora-000005.safetensors', 'x'),
  dfl: (run: string) => putDflModel(run, 'saehd-p3', 0, 'workspace/model'),
} as const;

/** The order SPEC section 4 and the config docs promise, written out rather than taken from the code. */
const ORDER = ['hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl'] as const;

describe('auto', () => {
  it('tries hf, lightning, keras, onetrainer, kohya, dfl in that order', () => {
    expect(AUTO_ORDER).toEqual(ORDER);
  });

  it.each(ORDER.map((name, i) => [name, ORDER.slice(i)] as const))(
    'picks %s when its files are there next to those of every later preset',
    async (expected, present) => {
      const run = await tempRun();
      for (const name of present) LAYOUTS[name](run);
      expect((await progressOf(run, AUTO)).source).toBe(expected);
    },
  );

  it('names the preset that yielded and returns its values', async () => {
    const run = await tempRun();
    LAYOUTS.keras(run);
    expect(await progressOf(run, AUTO)).toEqual({ epoch: 4, step: null, loss: null, metrics: { batch: 0 }, source: 'keras' });
  });

  it('moves on past a preset whose files are malformed', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/trainer_state.json', HF_STATE_500.slice(0, 100));
    LAYOUTS.lightning(run);
    expect((await progressOf(run, AUTO)).source).toBe('lightning');
  });

  it('finds nothing in an empty or unrelated folder', async () => {
    const run = await tempRun();
    expect(await progressOf(run, AUTO)).toEqual({ epoch: null, step: null, loss: null, metrics: {}, source: null });
    put(run, 'data/train.csv', 'a,b\n1,2\n');
    put(run, 'model.safetensors', 'w');
    expect((await progressOf(run, AUTO)).source).toBeNull();
  });
});
