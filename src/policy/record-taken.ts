/**
 * Updates the run state once the shell has taken a snapshot or save, or restored one. Pure.
 */
import type { PolicyName, PolicyState, Progress, RunState } from './types.js';

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

/**
 * The run state once a restore put the run back at `progress` (the restored files' epoch and step):
 * for both policies, an epoch or step anchor past the restored value moves back to it, as `decide`
 * does when it sees progress go back, so the new timeline's next multiple is backed up (and saved)
 * again even when the daemon never sees a value between the restore and that multiple. An unknown
 * restored value, one at or past the anchor, or no anchor yet, leaves that anchor as it is; time
 * anchors, change counts and last digests are untouched (the restored state is not a new change).
 */
export function rewindAnchors(state: RunState, progress: Progress): RunState {
  const back = (anchor: number | null, restored: number | null): number | null =>
    anchor !== null && restored !== null && Number.isFinite(restored) && restored < anchor ? restored : anchor;
  const rewind = (ps: PolicyState): PolicyState => ({ ...ps, lastEpoch: back(ps.lastEpoch, progress.epoch), lastStep: back(ps.lastStep, progress.step) });
  return { backup: rewind(state.backup), save: rewind(state.save) };
}
