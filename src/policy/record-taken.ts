/**
 * Updates the run state once the shell has taken a snapshot or save. Pure.
 */
import type { PolicyName, Progress, RunState } from './types.js';

/**
 * The run state after `policy` took the state `digest` at `progress`, at `now`: that policy's change
 * count back to 0, its crossing anchors at the progress taken (an unknown epoch or step keeps the
 * old anchor), its time anchor at `now`, its last digest at `digest`. Every kind of policy backup
 * (by `every`, cron, backup-now or before-save) is recorded as `backup`. The other policy is untouched.
 */
export function recordTaken(state: RunState, policy: PolicyName, progress: Progress, digest: string, now: number): RunState {
  const ps = state[policy];
  return {
    ...state,
    [policy]: {
      lastEpoch: progress.epoch ?? ps.lastEpoch,
      lastStep: progress.step ?? ps.lastStep,
      anchorAt: now,
      changes: 0,
      lastDigest: digest,
    },
  };
}
