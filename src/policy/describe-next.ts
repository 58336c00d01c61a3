/**
 * One line per policy for `ckptd status`: when the next backup/save comes and why. Pure.
 */
import { crosses, nextMultiple } from './crossing.js';
import { formatCron, formatDuration, formatNumber, formatSpan, plural } from './format.js';
import type { Every, PolicyConfig, PolicyName, PolicyState, Progress, RunState } from './types.js';

/**
 * Describes, for people, when each policy fires next given the run state, the current progress and
 * `now`: `next backup at epoch 6 (now 4)`, `next backup in 12m 3s`, `next save after 2 more changes`,
 * `next backup at epoch 6 (now 4), or on cron 0 * * * *`, `on cron 0 * * * *`, `never`.
 * It mirrors `decide` but does not account for backup-now or before-save backups.
 */
export function describeNext(config: PolicyConfig, state: RunState, progress: Progress, now: number): { backup: string; save: string } {
  return {
    backup: describePolicy('backup', config.backup.every, config.backup.cron, state.backup, progress, now),
    save: describePolicy('save', config.save.every, config.save.cron, state.save, progress, now),
  };
}

function describePolicy(policy: PolicyName, every: Every, cron: string | null, ps: PolicyState, progress: Progress, now: number): string {
  const onCron = cron === null ? null : `on ${formatCron(cron)}`;
  const main = describeEvery(policy, every, ps, progress, now);
  if (main === null) return onCron ?? 'never';
  return onCron === null ? main : `${main}, or ${onCron}`;
}

function describeEvery(policy: PolicyName, every: Every, ps: PolicyState, progress: Progress, now: number): string | null {
  switch (every.unit) {
    case 'never':
      return null;
    case 'changes': {
      const left = every.n - ps.changes;
      return left <= 0 ? `next ${policy} at the next settled state` : `next ${policy} after ${plural(left, 'more change')}`;
    }
    case 'epochs':
      return describeCrossing(policy, 'epoch', every.n, ps.lastEpoch, progress.epoch);
    case 'steps':
      return describeCrossing(policy, 'step', every.n, ps.lastStep, progress.step);
    case 'time': {
      if (ps.anchorAt === null) return `next ${policy} ${formatSpan(every.ms)} after the first settled state`;
      const left = ps.anchorAt + every.ms - Math.max(now, ps.anchorAt);
      if (left > 0) return `next ${policy} in ${formatDuration(Math.ceil(left / 1000) * 1000)}`;
      return `next ${policy} at the next change of the state (due for ${formatDuration(-left)})`;
    }
  }
}

function describeCrossing(policy: PolicyName, unit: 'epoch' | 'step', n: number, last: number | null, cur: number | null): string {
  if (cur === null || !Number.isFinite(cur)) {
    return `next ${policy} at ${unit} ${formatNumber(nextMultiple(last ?? 0, n))} (no ${unit} known yet)`;
  }
  // Progress that went backwards re-anchors at the current value, as `decide` does.
  const anchor = Math.min(last ?? 0, cur);
  if (crosses(anchor, cur, n)) return `next ${policy} due now (${unit} ${formatNumber(anchor)} → ${formatNumber(cur)} crosses a multiple of ${formatNumber(n)})`;
  return `next ${policy} at ${unit} ${formatNumber(nextMultiple(anchor, n))} (now ${formatNumber(cur)})`;
}
