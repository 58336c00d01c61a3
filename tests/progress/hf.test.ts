import { describe, expect, it } from 'vitest';
import { fromLogHistory, readHf } from '../../src/progress/preset-hf.js';
import { MAX_READ_BYTES } from '../../src/progress/read-progress.js';
import { HF_STATE_1000, HF_STATE_500, T0, hfState, makeHfRun, memoryView, preset, progressOf, put, tempRun } from './fixtures.js';

const HF = preset('hf');

describe('hf preset', () => {
  it('reads the checkpoint with the highest number: global_step, epoch, last loss, latest metrics', async () => {
    const run = await tempRun();
    makeHfRun(run);
    const p = await progressOf(run, HF);
    expect(p).toEqual({
      epoch: 2,
      step: 1000,
      // The last entry is an eval without `loss`: the loss comes from the entry before it.
      loss: 1.6502,
      metrics: {
        eval_loss: 1.6021,
        eval_runtime: 12.1187,
        eval_samples_per_second: 82.518,
        eval_steps_per_second: 10.315,
        grad_norm: 2.3027,
        learning_rate: 1.6766666666666667e-5,
      },
      source: 'hf',
    });
  });

  it('orders checkpoints by number, not by name or mtime', async () => {
    const run = await tempRun();
    // "checkpoint-900" sorts after "checkpoint-1000" as text, and is the newer file here.
    put(run, 'checkpoint-900/trainer_state.json', hfState(900, 1.8, [{ loss: 1.9, step: 900 }]), 50);
    put(run, 'checkpoint-1000/trainer_state.json', hfState(1000, 2.0, [{ loss: 1.7, step: 1000 }]), 10);
    const p = await progressOf(run, HF);
    expect([p.step, p.epoch, p.loss]).toEqual([1000, 2, 1.7]);
  });

  it('keeps a fractional epoch', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-750/trainer_state.json', hfState(750, 1.5, [{ epoch: 1.5, loss: 1.77, step: 750 }]));
    expect((await progressOf(run, HF)).epoch).toBe(1.5);
  });

  it('uses the top-level trainer_state.json (save_state) when it is further along', async () => {
    const run = await tempRun();
    makeHfRun(run);
    const final = hfState(1500, 3.0, [
      { epoch: 3.0, loss: 1.41, step: 1500 },
      { epoch: 3.0, step: 1500, total_flos: 3.1e15, train_loss: 1.82, train_runtime: 600.5 },
    ]);
    put(run, 'trainer_state.json', final, 30);
    const p = await progressOf(run, HF);
    expect([p.step, p.epoch, p.loss]).toEqual([1500, 3, 1.41]);
    expect(p.metrics).toMatchObject({ train_loss: 1.82, total_flos: 3.1e15 });
  });

  it('prefers the newest checkpoint over a stale top-level trainer_state.json', async () => {
    const run = await tempRun();
    makeHfRun(run);
    put(run, 'trainer_state.json', hfState(300, 0.6, [{ loss: 2.2, step: 300 }]), 5);
    expect((await progressOf(run, HF)).step).toBe(1000);
  });

  it('finds checkpoints below the run folder too', async () => {
    const run = await tempRun();
    put(run, 'outputs/llama-ft/checkpoint-200/trainer_state.json', hfState(200, 0.4, [{ loss: 2.5, step: 200 }]));
    expect((await progressOf(run, HF)).step).toBe(200);
  });

  it('falls back to an older checkpoint when the newest trainer_state.json is malformed', async () => {
    const run = await tempRun();
    makeHfRun(run);
    put(run, 'checkpoint-1500/trainer_state.json', HF_STATE_1000.slice(0, 300), 30);
    const p = await progressOf(run, HF);
    expect([p.step, p.source]).toEqual([1000, 'hf']);
  });

  it('skips a trainer_state.json without global_step and epoch', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/trainer_state.json', HF_STATE_500, 10);
    put(run, 'checkpoint-1000/trainer_state.json', '{"log_history": [{"loss": 1.0}]}', 20);
    expect((await progressOf(run, HF)).step).toBe(500);
  });

  it('yields nothing when every trainer_state.json is malformed', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/trainer_state.json', '{"global_step": 5', 10);
    put(run, 'checkpoint-1000/trainer_state.json', '[1, 2, 3]', 20);
    put(run, 'checkpoint-1500/trainer_state.json', '', 30);
    expect(await progressOf(run, HF)).toEqual({ epoch: null, step: null, loss: null, metrics: {}, source: null });
  });

  it('reads Python NaN and Infinity values, reporting a NaN last loss as unknown', async () => {
    const run = await tempRun();
    const text = HF_STATE_500.replace('"loss": 2.0192', '"loss": NaN').replace('"grad_norm": 2.871023416519165', '"grad_norm": Infinity');
    put(run, 'checkpoint-500/trainer_state.json', text);
    const p = await progressOf(run, HF);
    expect(p.step).toBe(500);
    expect(p.loss).toBeNull();
    // The latest grad_norm is Infinity: unknown, not the older finite value.
    expect(p.metrics.grad_norm).toBeUndefined();
    expect(p.metrics.eval_loss).toBe(1.8734);
  });

  it('ignores tmp-checkpoint-N staging folders', async () => {
    const view = memoryView({
      'checkpoint-500/trainer_state.json': { text: HF_STATE_500, minute: 1 },
      'tmp-checkpoint-1000/trainer_state.json': { text: HF_STATE_1000, minute: 2 },
    });
    expect((await readHf(view))?.step).toBe(500);
  });

  /**
   * A `trainer_state.json` of a long run logged at every step (`logging_steps=1`, common in TRL and
   * Unsloth recipes): `TrainerState.save_to_json` (transformers trainer_callback.py) writes
   * `json.dumps(asdict(state), indent=2, sort_keys=True)`, ~170 bytes a log entry, so the file
   * passes the read cap after about 50,000 steps.
   */
  function longState(steps: number): string {
    const history: Record<string, number>[] = [];
    for (let step = 1; step <= steps; step++) {
      history.push({ epoch: step / 20_000, grad_norm: 0.4 + (step % 7) / 100, learning_rate: 2e-5 * (1 - step / 100_000), loss: 1 + 1000 / step, step });
    }
    history.push({ epoch: steps / 20_000, eval_loss: 1.25, eval_runtime: 61.5, step: steps });
    return hfState(steps, steps / 20_000, history);
  }

  it('reads a trainer_state.json longer than the read cap: its step and epoch, and the last logged loss', async () => {
    const run = await tempRun();
    const text = longState(60_000);
    expect(text.length).toBeGreaterThan(MAX_READ_BYTES);
    put(run, 'checkpoint-59000/trainer_state.json', hfState(59_000, 2.95, [{ loss: 1.2, step: 59_000 }]), 1);
    put(run, 'checkpoint-60000/trainer_state.json', text, 2);
    const p = await progressOf(run, HF);
    expect(p).toMatchObject({ step: 60_000, epoch: 3, loss: 1 + 1000 / 60_000, source: 'hf' });
    expect(p.metrics).toMatchObject({ eval_loss: 1.25, eval_runtime: 61.5, grad_norm: 0.4 + (60_000 % 7) / 100 });
  });

  it('falls back to the older checkpoint when a long trainer_state.json is cut short (still being written)', async () => {
    const run = await tempRun();
    const text = longState(60_000);
    put(run, 'checkpoint-59000/trainer_state.json', hfState(59_000, 2.95, [{ loss: 1.2, step: 59_000 }]), 1);
    put(run, 'checkpoint-60000/trainer_state.json', text.slice(0, text.length - 5000), 2);
    const p = await progressOf(run, HF);
    expect([p.step, p.epoch, p.loss]).toEqual([59_000, 2.95, 1.2]);
  });

  it('reports the mtime of the file it read as atMs', async () => {
    const view = memoryView({ 'checkpoint-500/trainer_state.json': { text: HF_STATE_500, minute: 7 } });
    expect((await readHf(view))?.atMs).toBe(T0 + 7 * 60_000);
  });
});

describe('fromLogHistory', () => {
  it('takes each key from the latest entry that has it', () => {
    expect(
      fromLogHistory([
        { epoch: 0.5, loss: 3, learning_rate: 5e-5, step: 1 },
        { epoch: 1, eval_loss: 2.5, step: 2 },
        { epoch: 1.5, loss: 2, learning_rate: 4e-5, step: 3 },
      ]),
    ).toEqual({ loss: 2, metrics: { learning_rate: 4e-5, eval_loss: 2.5 } });
  });

  it('is empty for anything but a list', () => {
    expect(fromLogHistory(undefined)).toEqual({ loss: null, metrics: {} });
    expect(fromLogHistory({ loss: 1 })).toEqual({ loss: null, metrics: {} });
  });

  it('ignores non-numeric values and entries that are not objects', () => {
    expect(fromLogHistory([{ loss: '1.5', note: 'x' }, null, 7])).toEqual({ loss: 1.5, metrics: {} });
  });
});
