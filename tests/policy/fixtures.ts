/**
 * Builders for policy-core tests: a config, a run state and facts with readable defaults.
 */
import { EMPTY_POLICY_STATE, NO_PROGRESS, type Every, type Facts, type PolicyConfig, type PolicyState, type Progress, type RunState } from '../../src/policy/types.js';

export const MIN = 60_000;

/** A config with both policies off and before-save on, overridden per test. */
export function config(over: { backup?: Partial<PolicyConfig['backup']>; save?: Partial<PolicyConfig['save']> } = {}): PolicyConfig {
  return {
    backup: { every: { unit: 'never' }, cron: null, beforeSave: true, ...over.backup },
    save: { every: { unit: 'never' }, cron: null, ...over.save },
  };
}

/** Shorthands for `Every`. */
export const every = {
  never: { unit: 'never' } as Every,
  changes: (n: number): Every => ({ unit: 'changes', n }),
  epochs: (n: number): Every => ({ unit: 'epochs', n }),
  steps: (n: number): Every => ({ unit: 'steps', n }),
  minutes: (m: number): Every => ({ unit: 'time', ms: m * MIN }),
};

/** A run state from partial policy states. */
export function runState(backup: Partial<PolicyState> = {}, save: Partial<PolicyState> = {}): RunState {
  return { backup: { ...EMPTY_POLICY_STATE, ...backup }, save: { ...EMPTY_POLICY_STATE, ...save } };
}

/** Progress at an epoch and/or step. */
export function at(epoch: number | null, step: number | null = null): Progress {
  return { ...NO_PROGRESS, epoch, step };
}

/** Facts of a settled, changed state `d1` with no snapshot yet, nothing due, nobody asking. */
export function facts(over: Partial<Facts> = {}): Facts {
  return {
    progress: NO_PROGRESS,
    digest: 'd1',
    newestSnapshotDigest: null,
    changed: true,
    cronDue: { backup: false, save: false },
    backupNow: false,
    ...over,
  };
}
