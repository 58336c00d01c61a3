import { describe, expect, it } from 'vitest';
import type { ProgressSpec } from '../../src/config/types.js';
import { filenameSource } from '../../src/progress/source-filename.js';
import { HF_STATE_1000, memoryView, progressOf, put, tempRun } from './fixtures.js';
import { skorchHistory, type SkorchEpoch } from './skorch-history.js';

const fileSpec = (file: string, epoch: string | null, step: string | null, loss: string | null, metrics: Record<string, string> = {}): ProgressSpec => ({
  kind: 'file',
  file,
  epoch,
  step,
  loss,
  metrics,
});

const SKORCH: SkorchEpoch[] = [
  { trainLoss: 0.6931, validLoss: 0.6815, validAcc: 0.55, dur: 0.4213 },
  { trainLoss: 0.5407, validLoss: 0.5122, validAcc: 0.74, dur: 0.3987 },
  { trainLoss: 0.4619, validLoss: 0.4786, validAcc: 0.79, dur: 0.4021 },
];

describe('{file, epoch, step, loss} source', () => {
  it('reads key paths from a JSON file', async () => {
    const run = await tempRun();
    put(run, 'out/checkpoint-1000/trainer_state.json', HF_STATE_1000);
    const p = await progressOf(run, fileSpec('out/checkpoint-1000/trainer_state.json', 'epoch', 'global_step', 'log_history[-2].loss'));
    expect(p).toEqual({ epoch: 2, step: 1000, loss: 1.6502, metrics: {}, source: 'file' });
  });

  it('reads key paths from a YAML file, accepting numeric strings', async () => {
    const run = await tempRun();
    put(run, 'status.yaml', 'state:\n  epoch: "4"\n  step: 1200\nlosses:\n  - 0.9\n  - " 0.42 "\n');
    const p = await progressOf(run, fileSpec('status.yaml', 'state.epoch', 'state.step', 'losses[-1]'));
    expect([p.epoch, p.step, p.loss, p.source]).toEqual([4, 1200, 0.42, 'file']);
  });

  it.each([
    ['$[-1]', 'history.json', '[{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}]'],
    ['[-1]', 'history.json', '[{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}]'],
    ['history[-1]', 'state.json', '{"history": [{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}]}'],
    ['$.history[-1]', 'state.json', '{"history": [{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}]}'],
  ])('reads %s.epoch from %s (a list of per-epoch records, as skorch writes)', async (prefix, file, text) => {
    const run = await tempRun();
    put(run, file, text);
    const p = await progressOf(run, fileSpec(file, `${prefix}.epoch`, null, `${prefix}.train_loss`));
    expect([p.epoch, p.loss, p.source]).toEqual([2, 0.7, 'file']);
  });

  it('reads epoch, loss and extra metrics from skorch\'s own history.json through $[-1] and [-1]', async () => {
    const run = await tempRun();
    put(run, 'exp1/history.json', skorchHistory(SKORCH), 5);
    for (const last of ['$[-1]', '[-1]']) {
      const metrics = { valid_loss: `${last}.valid_loss`, valid_acc: `${last}.valid_acc`, dur: `${last}.dur` };
      const p = await progressOf(run, fileSpec('exp1/history.json', `${last}.epoch`, null, `${last}.train_loss`, metrics));
      expect(p).toEqual({ epoch: 3, step: null, loss: 0.4619, metrics: { valid_loss: 0.4786, valid_acc: 0.79, dur: 0.4021 }, source: 'file' });
    }
  });

  it('reads history[-1].epoch from a document that holds a history list, and nothing from skorch\'s own list', async () => {
    const run = await tempRun();
    put(run, 'history.json', skorchHistory(SKORCH));
    put(run, 'state.json', `{"history": ${skorchHistory(SKORCH)}}`);
    const spec = (file: string): ProgressSpec => fileSpec(file, 'history[-1].epoch', null, null, { valid_loss: 'history[-1].valid_loss' });
    expect(await progressOf(run, spec('state.json'))).toMatchObject({ epoch: 3, metrics: { valid_loss: 0.4786 }, source: 'file' });
    // skorch's file is the list itself, with no "history" key: that is `$[-1].epoch`.
    expect((await progressOf(run, spec('history.json'))).source).toBeNull();
  });

  it('leaves out a metric whose path holds no number, and yields metrics alone', async () => {
    const run = await tempRun();
    put(run, 'history.json', skorchHistory(SKORCH));
    const metrics = { valid_loss: '$[-1].valid_loss', best: '$[-1].valid_loss_best', gone: '$[-1].nope', bad: '$[-1' };
    const p = await progressOf(run, fileSpec('history.json', null, null, null, metrics));
    expect(p).toEqual({ epoch: null, step: null, loss: null, metrics: { valid_loss: 0.4786 }, source: 'file' });
  });

  it('accepts a ./ prefix and leaves unset paths null', async () => {
    const run = await tempRun();
    put(run, 'progress.json', '{"ep": 2}');
    const p = await progressOf(run, fileSpec('./progress.json', 'ep', null, null));
    expect([p.epoch, p.step, p.loss]).toEqual([2, null, null]);
  });

  it('reads a file the scan leaves out, such as one excluded from the state', async () => {
    const run = await tempRun();
    put(run, 'progress.json.tmp', '{"step": 9}');
    expect((await progressOf(run, fileSpec('progress.json.tmp', null, 'step', null))).step).toBe(9);
  });

  it('yields nothing for a missing or malformed file, or when no path holds a number', async () => {
    const run = await tempRun();
    const spec = fileSpec('state.json', 'epoch', 'step', 'loss');
    expect((await progressOf(run, spec)).source).toBeNull();
    put(run, 'state.json', '{"epoch": 3,');
    expect((await progressOf(run, spec)).source).toBeNull();
    put(run, 'state.json', '{"epoch": "three", "step": -5, "loss": true}');
    expect((await progressOf(run, spec)).source).toBeNull();
  });

  it('treats a malformed key path as unset', async () => {
    const run = await tempRun();
    put(run, 'state.json', '{"epoch": 3, "step": 7}');
    const p = await progressOf(run, fileSpec('state.json', 'epoch[', 'step', null));
    expect([p.epoch, p.step]).toEqual([null, 7]);
  });
});

describe('{filename: REGEX} source', () => {
  const spec = (pattern: string): ProgressSpec => ({ kind: 'filename', pattern });

  it('reads named groups; the highest step wins', async () => {
    const run = await tempRun();
    put(run, 'ckpt/model_e2_s2000_l0.51.pt', 'w', 2);
    put(run, 'ckpt/model_e3_s3000_l0.43.pt', 'w', 1);
    put(run, 'ckpt/model_e1_s1000_l0.80.pt', 'w', 3);
    const p = await progressOf(run, spec('^model_e(?<epoch>\\d+)_s(?<step>\\d+)_l(?<loss>[\\d.]+)\\.pt$'));
    expect(p).toEqual({ epoch: 3, step: 3000, loss: 0.43, metrics: {}, source: 'filename' });
  });

  it('breaks step ties by epoch, then by mtime', async () => {
    const view = memoryView({
      'a/e5-s100-l1.pt': { minute: 1 },
      'a/e6-s100-l2.pt': { minute: 0 },
      'b/e6-s100-l3.pt': { minute: 2 },
    });
    const r = await filenameSource('e(?<epoch>\\d+)-s(?<step>\\d+)-l(?<loss>\\d+)')(view);
    expect(r?.loss).toBe(3);
  });

  it('matches the base name first, then the relative path', async () => {
    const run = await tempRun();
    put(run, 'epoch_7/weights.bin', 'w');
    // Anchored on the base name it cannot match; the relative path can.
    const p = await progressOf(run, spec('^epoch_(?<epoch>\\d+)/'));
    expect(p.epoch).toBe(7);
    put(run, 'epoch_7/epoch_9.bin', 'w');
    expect((await progressOf(run, spec('epoch_(?<epoch>\\d+)'))).epoch).toBe(9);
  });

  it('yields nothing for no match, matches without numbers, and an invalid regex', async () => {
    const run = await tempRun();
    put(run, 'model_final.pt', 'w');
    expect((await progressOf(run, spec('model_e(?<epoch>\\d+)'))).source).toBeNull();
    expect((await progressOf(run, spec('model_(?<epoch>\\w+)'))).source).toBeNull();
    expect((await progressOf(run, spec('model_(?<epoch>\\d+'))).source).toBeNull();
  });
});
