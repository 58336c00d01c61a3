import { describe, expect, it } from 'vitest';
import { nextTimerAt } from '../../src/policy/next-timer.js';
import type { PolicyConfig, RunState } from '../../src/policy/types.js';
import { config, every, MIN, runState } from './fixtures.js';

const rows: { name: string; cfg: PolicyConfig; state: RunState; want: number | null }[] = [
  { name: 'no time policy', cfg: config({ backup: { every: every.epochs(2), cron: '0 * * * *' }, save: { every: every.changes(1) } }), state: runState({ anchorAt: 5 }, { anchorAt: 5 }), want: null },
  { name: 'time policy without an anchor yet', cfg: config({ backup: { every: every.minutes(30) } }), state: runState(), want: null },
  { name: 'backup anchored', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: 1000 }), want: 1000 + 30 * MIN },
  { name: 'save anchored', cfg: config({ save: { every: every.minutes(10) } }), state: runState({}, { anchorAt: 50 }), want: 50 + 10 * MIN },
  { name: 'the earlier of the two', cfg: config({ backup: { every: every.minutes(30) }, save: { every: every.minutes(10) } }), state: runState({ anchorAt: 0 }, { anchorAt: 25 * MIN }), want: 30 * MIN },
  { name: 'the earlier of the two (other order)', cfg: config({ backup: { every: every.minutes(30) }, save: { every: every.minutes(10) } }), state: runState({ anchorAt: 0 }, { anchorAt: 5 * MIN }), want: 15 * MIN },
  { name: 'an anchor kept from a time policy that is now epochs is ignored', cfg: config({ backup: { every: every.epochs(1) }, save: { every: every.minutes(1) } }), state: runState({ anchorAt: 0 }, { anchorAt: 10 * MIN }), want: 11 * MIN },
  { name: 'a due time may be in the past', cfg: config({ backup: { every: every.minutes(1) } }), state: runState({ anchorAt: 0 }), want: MIN },
];

describe('nextTimerAt', () => {
  it.each(rows)('$name', ({ cfg, state, want }) => {
    expect(nextTimerAt(cfg, state)).toBe(want);
  });
});
