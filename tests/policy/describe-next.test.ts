import { describe, expect, it } from 'vitest';
import { describeNext } from '../../src/policy/describe-next.js';
import type { PolicyConfig, Progress, RunState } from '../../src/policy/types.js';
import { at, config, every, MIN, runState } from './fixtures.js';

const NOW = 1_700_000_000_000;

const rows: { name: string; cfg: PolicyConfig; state: RunState; progress: Progress; backup: string; save: string }[] = [
  { name: 'both off', cfg: config(), state: runState(), progress: at(1), backup: 'never', save: 'never' },
  { name: 'epochs', cfg: config({ backup: { every: every.epochs(2) } }), state: runState({ lastEpoch: 4 }), progress: at(4), backup: 'next backup at epoch 6 (now 4)', save: 'never' },
  { name: 'epochs, due now', cfg: config({ backup: { every: every.epochs(2) } }), state: runState({ lastEpoch: 4 }), progress: at(6), backup: 'next backup due now (epoch 4 → 6 crosses a multiple of 2)', save: 'never' },
  { name: 'epochs, no epoch known', cfg: config({ backup: { every: every.epochs(2) } }), state: runState(), progress: at(null), backup: 'next backup at epoch 2 (no epoch known yet)', save: 'never' },
  { name: 'epochs, progress went back', cfg: config({ backup: { every: every.epochs(5) } }), state: runState({ lastEpoch: 10 }), progress: at(3), backup: 'next backup at epoch 5 (now 3)', save: 'never' },
  { name: 'steps for the save', cfg: config({ save: { every: every.steps(500) } }), state: runState({}, { lastStep: 1000 }), progress: at(3, 1200), backup: 'never', save: 'next save at step 1500 (now 1200)' },
  { name: 'changes', cfg: config({ backup: { every: every.changes(5) }, save: { every: every.changes(2) } }), state: runState({ changes: 3 }, { changes: 1 }), progress: at(null), backup: 'next backup after 2 more changes', save: 'next save after 1 more change' },
  { name: 'changes, count reached', cfg: config({ backup: { every: every.changes(2) } }), state: runState({ changes: 2 }), progress: at(null), backup: 'next backup at the next settled state', save: 'never' },
  { name: 'time, anchored', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 17 * MIN - 57_000 }), progress: at(null), backup: 'next backup in 12m 3s', save: 'never' },
  { name: 'time, not anchored yet', cfg: config({ backup: { every: every.minutes(30) } }), state: runState(), progress: at(null), backup: 'next backup 30 minutes after the first settled state', save: 'never' },
  { name: 'time, due but waiting for a change', cfg: config({ save: { every: every.minutes(30) } }), state: runState({}, { anchorAt: NOW - 35 * MIN }), progress: at(null), backup: 'never', save: 'next save at the next change of the state (due for 5m 0s)' },
  { name: 'cron only', cfg: config({ backup: { cron: '0 * * * *' } }), state: runState(), progress: at(1), backup: 'on cron 0 * * * *', save: 'never' },
  { name: 'every and cron', cfg: config({ backup: { every: every.epochs(2), cron: '0 * * * *' } }), state: runState({ lastEpoch: 4 }), progress: at(5), backup: 'next backup at epoch 6 (now 5), or on cron 0 * * * *', save: 'never' },
];

describe('describeNext', () => {
  it.each(rows)('$name', ({ cfg, state, progress, backup, save }) => {
    expect(describeNext(cfg, state, progress, NOW)).toEqual({ backup, save });
  });
});
