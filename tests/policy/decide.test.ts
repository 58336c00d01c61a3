import { describe, expect, it } from 'vitest';
import { decide } from '../../src/policy/decide.js';
import type { Decision, Facts, PolicyConfig, RunState } from '../../src/policy/types.js';
import { at, config, every, facts, MIN, runState } from './fixtures.js';

const NOW = 1_700_000_000_000;

interface Row {
  name: string;
  cfg: PolicyConfig;
  state: RunState;
  facts: Facts;
  now?: number;
  /** `${kind} ${trigger}`, in order. */
  actions: string[];
  /** Matched against the action reasons, by position. */
  reasons?: RegExp[];
  skip?: { backup?: RegExp | null; save?: RegExp | null };
  /** Checks on the returned state. */
  after?: (state: RunState) => void;
}

const backupEpochs = (n: number) => config({ backup: { every: every.epochs(n) } });

const rows: Row[] = [
  // epochs / steps: crossing
  { name: 'epoch 9 → 10 with every 10 epochs fires', cfg: backupEpochs(10), state: runState({ lastEpoch: 9 }), facts: facts({ progress: at(10) }),
    actions: ['backup every 10 epochs'], reasons: [/epoch 9 → 10 crosses a multiple of 10/] },
  { name: 'a jump 7 → 23 with every 5 epochs fires once', cfg: backupEpochs(5), state: runState({ lastEpoch: 7 }), facts: facts({ progress: at(23) }),
    actions: ['backup every 5 epochs'], reasons: [/epoch 7 → 23 crosses a multiple of 5/] },
  { name: 'epoch 10 → 19 with every 10 epochs does not fire and says what is next', cfg: backupEpochs(10), state: runState({ lastEpoch: 10 }), facts: facts({ progress: at(19) }),
    actions: [], skip: { backup: /next at epoch 20, now 19/, save: null } },
  { name: 'live edit at epoch 9 from every 3 to every 10 epochs: epoch 9.5 waits', cfg: backupEpochs(10), state: runState({ lastEpoch: 9 }), facts: facts({ progress: at(9.5) }),
    actions: [], skip: { backup: /next at epoch 10, now 9.5/ } },
  { name: 'live edit from every 3 to every 2 epochs after a backup at 6: epoch 7 waits', cfg: backupEpochs(2), state: runState({ lastEpoch: 6 }), facts: facts({ progress: at(7) }),
    actions: [], skip: { backup: /next at epoch 8, now 7/ } },
  { name: 'live edit from every 3 to every 2 epochs after a backup at 6: epoch 8 fires', cfg: backupEpochs(2), state: runState({ lastEpoch: 6 }), facts: facts({ progress: at(8) }),
    actions: ['backup every 2 epochs'], reasons: [/epoch 6 → 8/] },
  { name: 'fractional epoch 2.5 has not crossed 3', cfg: backupEpochs(1), state: runState({ lastEpoch: 2 }), facts: facts({ progress: at(2.5) }),
    actions: [], skip: { backup: /next at epoch 3, now 2.5/ } },
  { name: 'fractional epoch 2.5 → 3.25 crosses 3', cfg: backupEpochs(1), state: runState({ lastEpoch: 2.5 }), facts: facts({ progress: at(3.25) }),
    actions: ['backup every 1 epoch'], reasons: [/epoch 2.5 → 3.25 crosses a multiple of 1/] },
  { name: 'float noise 2.9999999999999996 counts as epoch 3', cfg: backupEpochs(3), state: runState({ lastEpoch: 0 }), facts: facts({ progress: at(2.9999999999999996) }),
    actions: ['backup every 3 epochs'] },
  { name: 'no anchor yet counts from 0: epoch 1 with every 2 waits', cfg: backupEpochs(2), state: runState(), facts: facts({ progress: at(1) }),
    actions: [], skip: { backup: /next at epoch 2, now 1/ } },
  { name: 'no anchor yet counts from 0: epoch 2 with every 2 fires', cfg: backupEpochs(2), state: runState(), facts: facts({ progress: at(2) }),
    actions: ['backup every 2 epochs'], reasons: [/epoch 0 → 2/] },
  { name: 'no epoch known: skip says so', cfg: backupEpochs(2), state: runState({ lastEpoch: 4 }), facts: facts({ progress: at(null, 100) }),
    actions: [], skip: { backup: /no epoch is known yet/ }, after: (s) => expect(s.backup.lastEpoch).toBe(4) },
  { name: 'epoch went backwards: no fire, re-anchored at the current epoch', cfg: backupEpochs(2), state: runState({ lastEpoch: 10 }), facts: facts({ progress: at(3) }),
    actions: [], skip: { backup: /went back from 10 to 3.*next at epoch 4/ }, after: (s) => expect(s.backup.lastEpoch).toBe(3) },
  { name: 'steps 400 → 500 with every 500 steps fires', cfg: config({ backup: { every: every.steps(500) } }), state: runState({ lastStep: 400 }), facts: facts({ progress: at(1, 500) }),
    actions: ['backup every 500 steps'], reasons: [/step 400 → 500 crosses a multiple of 500/] },
  { name: 'steps 500 → 999 waits for 1000', cfg: config({ backup: { every: every.steps(500) } }), state: runState({ lastStep: 500 }), facts: facts({ progress: at(9, 999) }),
    actions: [], skip: { backup: /next at step 1000, now 999/ } },
  { name: 'steps policy with only an epoch known: no step is known yet', cfg: config({ backup: { every: every.steps(500) } }), state: runState(), facts: facts({ progress: at(10) }),
    actions: [], skip: { backup: /no step is known yet/ } },
  { name: 'steps went backwards: re-anchored, epoch anchor untouched', cfg: config({ backup: { every: every.steps(100) } }), state: runState({ lastStep: 800, lastEpoch: 8 }), facts: facts({ progress: at(5, 500) }),
    actions: [], after: (s) => expect([s.backup.lastStep, s.backup.lastEpoch]).toEqual([500, 8]) },

  // changes
  { name: 'changes: 2nd of 3 changes counts and waits', cfg: config({ backup: { every: every.changes(3) } }), state: runState({ changes: 1 }), facts: facts(),
    actions: [], skip: { backup: /2 of 3 changes; next after 1 more change/ }, after: (s) => expect(s.backup.changes).toBe(2) },
  { name: 'changes: 3rd of 3 changes fires, count kept for the shell to reset', cfg: config({ backup: { every: every.changes(3) } }), state: runState({ changes: 2 }), facts: facts(),
    actions: ['backup every 3 changes'], reasons: [/3 of 3 changes counted/], after: (s) => expect(s.backup.changes).toBe(3) },
  { name: 'changes: always (= 1 change) fires on a change', cfg: config({ backup: { every: every.changes(1) } }), state: runState(), facts: facts(),
    actions: ['backup every change'], reasons: [/the state changed/] },
  { name: 'changes: an unchanged evaluation does not count', cfg: config({ backup: { every: every.changes(3) } }), state: runState({ changes: 1 }), facts: facts({ changed: false }),
    actions: [], after: (s) => expect(s.backup.changes).toBe(1) },
  { name: 'changes: a count left at n by a failed snapshot fires again on retry', cfg: config({ backup: { every: every.changes(2) } }), state: runState({ changes: 2 }), facts: facts({ changed: false }),
    actions: ['backup every 2 changes'] },
  { name: 'changes: both policies count independently', cfg: config({ backup: { every: every.changes(5), beforeSave: false }, save: { every: every.changes(2) } }), state: runState({ changes: 3 }, { changes: 1 }), facts: facts(),
    actions: ['save every 2 changes'], after: (s) => expect([s.backup.changes, s.save.changes]).toEqual([4, 2]) },

  // time
  { name: 'time: first seen sets the anchor and waits', cfg: config({ backup: { every: every.minutes(30) } }), state: runState(), facts: facts(),
    actions: [], skip: { backup: /first seen now; next in 30m 0s/ }, after: (s) => expect(s.backup.anchorAt).toBe(NOW) },
  { name: 'time: 10 of 30 minutes passed', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 10 * MIN }), facts: facts(),
    actions: [], skip: { backup: /next in 20m 0s/ }, after: (s) => expect(s.backup.anchorAt).toBe(NOW - 10 * MIN) },
  { name: 'time: remaining seconds round up', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 30 * MIN + 500 }), facts: facts(),
    actions: [], skip: { backup: /next in 1s/ } },
  { name: 'time: exactly 30 minutes and a changed state fires', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 30 * MIN, lastDigest: 'd0' }), facts: facts({ newestSnapshotDigest: 'd0' }),
    actions: ['backup every 30 minutes'], reasons: [/30m 0s since the last backup and the state changed/] },
  { name: 'time: due but the state is the newest snapshot', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 45 * MIN }), facts: facts({ newestSnapshotDigest: 'd1', changed: false }),
    actions: [], skip: { backup: /state unchanged since the last snapshot/ } },
  { name: 'time: due but the state is the last backup (a newer snapshot differs)', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW - 45 * MIN, lastDigest: 'd1' }), facts: facts({ newestSnapshotDigest: 'd9' }),
    actions: [], skip: { backup: /state unchanged since the last snapshot/ } },
  { name: 'time: a save is due when a backup (not a save) holds the state', cfg: config({ save: { every: every.minutes(30) } }), state: runState({ lastDigest: 'd1' }, { anchorAt: NOW - 31 * MIN, lastDigest: 'd0' }), facts: facts({ newestSnapshotDigest: 'd1', changed: false }),
    actions: ['save every 30 minutes'], skip: { backup: /before-save: not needed, this exact state is already backed up/ } },
  { name: 'time: a save is not due when the last save took this state', cfg: config({ save: { every: every.minutes(30) } }), state: runState({}, { anchorAt: NOW - 31 * MIN, lastDigest: 'd1' }), facts: facts(),
    actions: [], skip: { save: /state unchanged since the last snapshot/ } },
  { name: 'time: a clock set back re-anchors at now', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW + 60 * MIN }), facts: facts(),
    actions: [], skip: { backup: /clock went back 1h 0m/ }, after: (s) => expect(s.backup.anchorAt).toBe(NOW) },

  // cron
  { name: 'cron: ticked and changed fires', cfg: config({ backup: { cron: '0 */2 * * *' } }), state: runState(), facts: facts({ cronDue: { backup: true, save: false } }),
    actions: ['backup cron 0 */2 * * *'], reasons: [/ticked and the state changed/] },
  { name: 'cron: ticked but unchanged skips', cfg: config({ backup: { cron: '0 */2 * * *' } }), state: runState({ lastDigest: 'd1' }), facts: facts({ cronDue: { backup: true, save: false }, newestSnapshotDigest: 'd1' }),
    actions: [], skip: { backup: /cron 0 \*\/2 \* \* \*: ticked, but state unchanged since the last snapshot/ } },
  { name: 'cron: not ticked waits', cfg: config({ backup: { every: every.epochs(2), cron: '0 * * * *' } }), state: runState({ lastEpoch: 4 }), facts: facts({ progress: at(5) }),
    actions: [], skip: { backup: /every 2 epochs: next at epoch 6, now 5; cron 0 \* \* \* \*: waits for its next tick/ } },
  { name: 'cron: save with every never and a cron fires, after a before-save backup', cfg: config({ save: { cron: '30 4 * * *' } }), state: runState(), facts: facts({ cronDue: { backup: false, save: true } }),
    actions: ['backup before-save', 'save cron 30 4 * * *'], reasons: [/preceded by a backup of the same state/] },
  { name: 'cron: a save cron tick does not fire the backup cron', cfg: config({ backup: { cron: '0 * * * *', beforeSave: false } }), state: runState(), facts: facts({ cronDue: { backup: false, save: true } }),
    actions: [] },

  // backup-now
  { name: 'backup-now fires with every policy off', cfg: config(), state: runState(), facts: facts({ backupNow: true }),
    actions: ['backup backup-now'] },
  { name: 'backup-now fires on an unchanged state', cfg: config({ backup: { every: every.minutes(30) } }), state: runState({ anchorAt: NOW, lastDigest: 'd1' }), facts: facts({ backupNow: true, changed: false, newestSnapshotDigest: 'd1' }),
    actions: ['backup backup-now'] },
  { name: 'backup-now wins the trigger, the other firing rules are named', cfg: config({ backup: { every: every.epochs(2), cron: '0 * * * *' } }), state: runState({ lastEpoch: 2 }), facts: facts({ backupNow: true, progress: at(4), cronDue: { backup: true, save: false } }),
    actions: ['backup backup-now'], reasons: [/backup-now.*also every 2 epochs: epoch 2 → 4.*also cron 0 \* \* \* \*/] },
  { name: 'every and cron both firing: every is the trigger, cron is named', cfg: config({ backup: { every: every.epochs(2), cron: '0 * * * *' } }), state: runState({ lastEpoch: 2 }), facts: facts({ progress: at(4), cronDue: { backup: true, save: false } }),
    actions: ['backup every 2 epochs'], reasons: [/also cron 0 \* \* \* \*/] },
  { name: 'backup-now and a due save: one backup, then the save', cfg: config({ save: { every: every.epochs(5) } }), state: runState(), facts: facts({ backupNow: true, progress: at(5) }),
    actions: ['backup backup-now', 'save every 5 epochs'] },

  // completes: the newest backup left out files that have settled since
  { name: 'completes: files the newest backup left out have settled: a backup now, whatever every says', cfg: config({ backup: { every: every.epochs(1) } }), state: runState({ lastEpoch: 2 }), facts: facts({ progress: at(2), completes: { id: 'b2', paths: ['last.ckpt'] } }),
    actions: ['backup completes'], reasons: [/backup b2 left out last\.ckpt \(still being written then\); it has settled, so this state is backed up whole/] },
  { name: 'completes: with backup-now, backup-now is the trigger and completes is named', cfg: config(), state: runState(), facts: facts({ backupNow: true, completes: { id: 'b2', paths: ['a.bin', 'b.bin'] } }),
    actions: ['backup backup-now'], reasons: [/also completes: backup b2 left out a\.bin, b\.bin/] },
  { name: 'completes: nothing left out, nothing extra', cfg: config({ backup: { every: every.epochs(1) } }), state: runState({ lastEpoch: 2 }), facts: facts({ progress: at(2), completes: null }),
    actions: [] },

  // before-save
  { name: 'before-save: a due save is preceded by a backup', cfg: config({ backup: { every: every.epochs(2) }, save: { every: every.epochs(5) } }), state: runState({ lastEpoch: 4 }, { lastEpoch: 0 }), facts: facts({ progress: at(5) }),
    actions: ['backup before-save', 'save every 5 epochs'], reasons: [/the save \(every 5 epochs\) is preceded by a backup/, /epoch 0 → 5/] },
  { name: 'before-save: when both are due there is exactly one backup, first', cfg: config({ backup: { every: every.epochs(2) }, save: { every: every.epochs(5) } }), state: runState({ lastEpoch: 8 }, { lastEpoch: 5 }), facts: facts({ progress: at(10) }),
    actions: ['backup every 2 epochs', 'save every 5 epochs'] },
  { name: 'before-save off: the save alone', cfg: config({ backup: { every: every.epochs(2), beforeSave: false }, save: { every: every.epochs(5) } }), state: runState({ lastEpoch: 4 }), facts: facts({ progress: at(5) }),
    actions: ['save every 5 epochs'], skip: { backup: /next at epoch 6, now 5/ } },
  { name: 'before-save: not repeated for a state that is already the last backup', cfg: config({ save: { every: every.changes(1) } }), state: runState({ lastDigest: 'd1' }), facts: facts(),
    actions: ['save every change'], skip: { backup: /^before-save: not needed, this exact state is already backed up$/, save: null } },
  { name: 'before-save: a manual snapshot of the state is not a backup of it', cfg: config({ save: { every: every.changes(1) } }), state: runState({ lastDigest: 'd0' }), facts: facts({ newestSnapshotDigest: 'd1' }),
    actions: ['backup before-save', 'save every change'] },

  // nothing configured
  { name: 'both policies off: no actions, no skips', cfg: config(), state: runState(), facts: facts({ progress: at(3) }),
    actions: [], skip: { backup: null, save: null } },
  { name: 'both policies waiting: one skip each', cfg: config({ backup: { every: every.changes(5) }, save: { every: every.steps(1000) } }), state: runState({ changes: 1 }), facts: facts({ progress: at(1, 250) }),
    actions: [], skip: { backup: /every 5 changes: 2 of 5 changes; next after 3 more changes/, save: /every 1000 steps: next at step 1000, now 250/ } },
];

function actionsOf(d: Decision): string[] {
  return d.actions.map((a) => `${a.kind} ${a.trigger}`);
}

describe('decide', () => {
  it.each(rows)('$name', (row) => {
    const input = structuredClone(row.state);
    const d = decide(row.cfg, row.state, row.facts, row.now ?? NOW);
    expect(actionsOf(d)).toEqual(row.actions);
    row.reasons?.forEach((re, i) => expect(d.actions[i]?.reason).toMatch(re));
    for (const kind of ['backup', 'save'] as const) {
      const want = row.skip?.[kind];
      const got = d.skips.find((s) => s.kind === kind);
      if (want === null) expect(got).toBeUndefined();
      else if (want) expect(got?.reason).toMatch(want);
      // A policy either acts or explains itself (or is entirely off), never both.
      if (d.actions.some((a) => a.kind === kind)) expect(got).toBeUndefined();
    }
    expect(d.skips.length).toBeLessThanOrEqual(2);
    row.after?.(d.state);
    expect(row.state).toEqual(input);
  });

  it('orders actions backup first and has at most one of each', () => {
    for (const row of rows) {
      const kinds = decide(row.cfg, row.state, row.facts, NOW).actions.map((a) => a.kind);
      expect(kinds.filter((k) => k === 'backup').length).toBeLessThanOrEqual(1);
      expect(kinds.filter((k) => k === 'save').length).toBeLessThanOrEqual(1);
      expect([...kinds].sort()).toEqual(kinds);
    }
  });

  it('never records a snapshot as taken in the returned state', () => {
    const cfg = config({ backup: { every: every.epochs(2) }, save: { every: every.minutes(1) } });
    const state = runState({ lastEpoch: 2, anchorAt: 5, lastDigest: 'd0' }, { anchorAt: NOW - 2 * MIN, lastDigest: 'd0' });
    const d = decide(cfg, state, facts({ progress: at(4, 40) }), NOW);
    expect(actionsOf(d)).toEqual(['backup every 2 epochs', 'save every 1 minute']);
    expect(d.state).toEqual(state);
  });
});
