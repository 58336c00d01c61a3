import { describe, expect, it } from 'vitest';
import { decide, recordTaken } from '../../src/policy/decide.js';
import { EMPTY_RUN_STATE, type Facts, type PolicyConfig, type RunState } from '../../src/policy/types.js';
import { at, config, every, facts, MIN } from './fixtures.js';

interface Tick {
  cfg: PolicyConfig;
  facts: Facts;
  now: number;
}

/** Feeds settled states through decide, taking every action as the shell would; returns what was taken. */
function simulate(ticks: Tick[], start: RunState = EMPTY_RUN_STATE): { taken: string[]; state: RunState } {
  let state = start;
  let newest: string | null = null;
  const taken: string[] = [];
  for (const t of ticks) {
    const f: Facts = { ...t.facts, newestSnapshotDigest: newest };
    const d = decide(t.cfg, state, f, t.now);
    state = d.state;
    for (const a of d.actions) {
      state = recordTaken(state, a.kind, f.progress, f.digest, t.now);
      if (a.kind === 'backup') newest = f.digest;
      taken.push(`${f.progress.epoch ?? f.progress.step}:${a.kind}:${a.trigger}`);
    }
  }
  return { taken, state };
}

const epochs = (cfg: PolicyConfig, from: number, to: number, stepBy = 1): Tick[] => {
  const out: Tick[] = [];
  for (let e = from; e <= to + 1e-9; e += stepBy) out.push({ cfg, facts: facts({ progress: at(e), digest: `e${e}` }), now: e * MIN });
  return out;
};

describe('decide + recordTaken over a run', () => {
  it('epochs 1..12 with every 3 epochs back up exactly at the multiples', () => {
    const { taken } = simulate(epochs(config({ backup: { every: every.epochs(3) } }), 1, 12));
    expect(taken).toEqual(['3:backup:every 3 epochs', '6:backup:every 3 epochs', '9:backup:every 3 epochs', '12:backup:every 3 epochs']);
  });

  it('epochs 1..12 with backups every 3 and saves every 4: before-save backups, one backup per epoch at most', () => {
    const { taken } = simulate(epochs(config({ backup: { every: every.epochs(3) }, save: { every: every.epochs(4) } }), 1, 12));
    expect(taken).toEqual([
      '3:backup:every 3 epochs',
      '4:backup:before-save',
      '4:save:every 4 epochs',
      '6:backup:every 3 epochs',
      '8:backup:before-save',
      '8:save:every 4 epochs',
      '9:backup:every 3 epochs',
      '12:backup:every 3 epochs',
      '12:save:every 4 epochs',
    ]);
  });

  it('before-save backups do not shift the epoch multiples', () => {
    // The before-save backup at 4 moves the anchor to 4; the crossing still fires at 6, not at 7.
    const { taken } = simulate(epochs(config({ backup: { every: every.epochs(3) }, save: { every: every.epochs(4) } }), 1, 7));
    expect(taken.filter((t) => t.includes('every 3'))).toEqual(['3:backup:every 3 epochs', '6:backup:every 3 epochs']);
  });

  it('Hugging Face fractional epochs back up once per whole epoch', () => {
    const { taken } = simulate(epochs(config({ backup: { every: every.epochs(1) } }), 0.1, 3.05, 0.1));
    expect(taken.map((t) => Math.round(Number(t.split(':')[0]) * 10) / 10)).toEqual([1, 2, 3]);
  });

  it('live edit at epoch 9 from every 3 to every 10 epochs fires at 10', () => {
    const before = epochs(config({ backup: { every: every.epochs(3) } }), 1, 9);
    const after = epochs(config({ backup: { every: every.epochs(10) } }), 10, 21);
    expect(simulate([...before, ...after]).taken).toEqual([
      '3:backup:every 3 epochs',
      '6:backup:every 3 epochs',
      '9:backup:every 3 epochs',
      '10:backup:every 10 epochs',
      '20:backup:every 10 epochs',
    ]);
  });

  it('live edit after a backup at 6 from every 3 to every 2 epochs fires at 8, not 7', () => {
    const before = epochs(config({ backup: { every: every.epochs(3) } }), 1, 6);
    const after = epochs(config({ backup: { every: every.epochs(2) } }), 7, 10);
    expect(simulate([...before, ...after]).taken.slice(2)).toEqual(['8:backup:every 2 epochs', '10:backup:every 2 epochs']);
  });

  it('a restart from epoch 3 after reaching 10 backs up again at the next multiple past 3', () => {
    const cfg = config({ backup: { every: every.epochs(5) } });
    const ticks = [...epochs(cfg, 1, 10), ...epochs(cfg, 3, 6)];
    expect(simulate(ticks).taken).toEqual(['5:backup:every 5 epochs', '10:backup:every 5 epochs', '5:backup:every 5 epochs']);
  });

  it('every 3 changes takes every third settled change and ignores unchanged evaluations', () => {
    const cfg = config({ backup: { every: every.changes(3) } });
    const ticks: Tick[] = [];
    for (let i = 1; i <= 9; i++) {
      ticks.push({ cfg, facts: facts({ progress: at(i), digest: `d${i}` }), now: i });
      ticks.push({ cfg, facts: facts({ progress: at(i), digest: `d${i}`, changed: false }), now: i });
    }
    expect(simulate(ticks).taken).toEqual(['3:backup:every 3 changes', '6:backup:every 3 changes', '9:backup:every 3 changes']);
  });

  it('every 30 minutes: anchored at first sight, fires only on changed states, re-anchors when taken', () => {
    const cfg = config({ backup: { every: every.minutes(30) } });
    const tick = (min: number, digest: string): Tick => ({ cfg, facts: facts({ progress: at(min), digest }), now: min * MIN });
    const { taken, state } = simulate([
      tick(0, 'a'), // first seen
      tick(29, 'b'),
      tick(30, 'c'), // due and changed
      tick(61, 'c'), // due but unchanged since the backup at 30
      tick(75, 'd'), // changed: fires, re-anchors at 75
      tick(100, 'e'),
      tick(105, 'f'),
    ]);
    expect(taken).toEqual(['30:backup:every 30 minutes', '75:backup:every 30 minutes', '105:backup:every 30 minutes']);
    expect(state.backup.anchorAt).toBe(105 * MIN);
  });
});
