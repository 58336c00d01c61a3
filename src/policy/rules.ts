/**
 * The rules one policy is made of (`every`, `cron`, backup-now), each evaluated on its own into a
 * `RuleOutcome`. `decide` combines them. Pure: the clock is the `now` argument.
 */
import { crosses, nextMultiple } from './crossing.js';
import { formatCron, formatDuration, formatEvery, formatNumber, plural } from './format.js';
import type { Every, Facts, PolicyName, PolicyState } from './types.js';

/** What one rule of a policy says about this evaluation. */
export interface RuleOutcome {
  fires: boolean;
  /** The rule, short (`every 2 epochs`, `cron 0 * * * *`, `backup-now`): the action's trigger if it fires. */
  trigger: string;
  /** For people: the numbers behind the outcome, and what comes next when it does not fire. */
  reason: string;
}

/** An outcome plus the policy state after counting (changes counted, first-seen anchors set). */
export interface RuleResult {
  outcome: RuleOutcome;
  state: PolicyState;
}

/**
 * True when the current state is already held by what this policy last took, so a time or cron
 * rule has nothing new to take. For `backup` the newest snapshot of any kind also counts (a manual
 * snapshot of this exact state already protects it); for `save` only the last save does, since a
 * backup of the state is not an export of it.
 */
export function stateUnchanged(policy: PolicyName, ps: PolicyState, facts: Facts): boolean {
  if (facts.digest === ps.lastDigest) return true;
  return policy === 'backup' && facts.digest === facts.newestSnapshotDigest;
}

/**
 * Evaluates the `every` rule of a policy; null for `never`. `changes` counts `facts.changed` and
 * fires when the count reaches n; `epochs`/`steps` fire when progress crosses a multiple of n since
 * the policy's last snapshot (and re-anchor, without firing, when progress went backwards); `time`
 * anchors on first sight and fires once the span has passed and the state changed.
 */
export function everyRule(policy: PolicyName, every: Every, ps: PolicyState, facts: Facts, now: number): RuleResult | null {
  switch (every.unit) {
    case 'never':
      return null;
    case 'changes':
      return changesRule(every.n, ps, facts, formatEvery(every));
    case 'epochs':
      return crossingRule('epoch', every.n, ps, facts.progress.epoch, formatEvery(every));
    case 'steps':
      return crossingRule('step', every.n, ps, facts.progress.step, formatEvery(every));
    case 'time':
      return timeRule(policy, every.ms, ps, facts, now, formatEvery(every));
  }
}

function changesRule(n: number, ps: PolicyState, facts: Facts, trigger: string): RuleResult {
  const count = facts.changed ? ps.changes + 1 : ps.changes;
  const state = { ...ps, changes: count };
  // `>=` and not `===`: a snapshot that failed leaves the count at n, so the retry fires again.
  if (count >= n) {
    const reason = n === 1 ? 'the state changed' : `${count} of ${plural(n, 'change')} counted`;
    return { state, outcome: { fires: true, trigger, reason } };
  }
  const left = n - count;
  return { state, outcome: { fires: false, trigger, reason: `${count} of ${plural(n, 'change')}; next after ${plural(left, 'more change')}` } };
}

function crossingRule(unit: 'epoch' | 'step', n: number, ps: PolicyState, cur: number | null, trigger: string): RuleResult {
  const key = unit === 'epoch' ? 'lastEpoch' : 'lastStep';
  if (cur === null || !Number.isFinite(cur)) {
    return { state: ps, outcome: { fires: false, trigger, reason: `no ${unit} is known yet, so ${trigger} cannot count` } };
  }
  const anchor = ps[key] ?? 0;
  if (cur < anchor) {
    const reason =
      `${unit} went back from ${formatNumber(anchor)} to ${formatNumber(cur)} (training restarted or restored): ` +
      `counting from ${unit} ${formatNumber(cur)} now; next at ${unit} ${formatNumber(nextMultiple(cur, n))}`;
    return { state: { ...ps, [key]: cur }, outcome: { fires: false, trigger, reason } };
  }
  if (crosses(anchor, cur, n)) {
    const reason = `${unit} ${formatNumber(anchor)} → ${formatNumber(cur)} crosses a multiple of ${formatNumber(n)}`;
    return { state: ps, outcome: { fires: true, trigger, reason } };
  }
  const reason = `next at ${unit} ${formatNumber(nextMultiple(anchor, n))}, now ${formatNumber(cur)}`;
  return { state: ps, outcome: { fires: false, trigger, reason } };
}

function timeRule(policy: PolicyName, ms: number, ps: PolicyState, facts: Facts, now: number, trigger: string): RuleResult {
  if (ps.anchorAt === null) {
    return { state: { ...ps, anchorAt: now }, outcome: { fires: false, trigger, reason: `first seen now; next in ${formatDuration(ms)}` } };
  }
  if (now < ps.anchorAt) {
    // A clock set backwards would otherwise silence the policy until it caught up again.
    const reason = `the clock went back ${formatDuration(ps.anchorAt - now)}; counting from now, next in ${formatDuration(ms)}`;
    return { state: { ...ps, anchorAt: now }, outcome: { fires: false, trigger, reason } };
  }
  const elapsed = now - ps.anchorAt;
  if (elapsed < ms) {
    // Rounded up so that "in 0s" is never shown for something not yet due.
    const left = Math.ceil((ms - elapsed) / 1000) * 1000;
    return { state: ps, outcome: { fires: false, trigger, reason: `next in ${formatDuration(left)}` } };
  }
  const since = ps.lastDigest === null ? 'since ckptd first saw this run' : `since the last ${policy}`;
  if (stateUnchanged(policy, ps, facts)) {
    const reason = `due (${formatDuration(elapsed)} ${since}), but state unchanged since the last snapshot; waits for a change`;
    return { state: ps, outcome: { fires: false, trigger, reason } };
  }
  return { state: ps, outcome: { fires: true, trigger, reason: `${formatDuration(elapsed)} ${since} and the state changed` } };
}

/**
 * Evaluates the `cron` rule of a policy; null when none is configured. Fires when the schedule
 * ticked since the last evaluation and the state changed since the policy last took it.
 */
export function cronRule(policy: PolicyName, expr: string | null, ps: PolicyState, facts: Facts): RuleOutcome | null {
  if (expr === null) return null;
  const trigger = formatCron(expr);
  if (!facts.cronDue[policy]) return { fires: false, trigger, reason: 'waits for its next tick' };
  if (stateUnchanged(policy, ps, facts)) {
    return { fires: false, trigger, reason: 'ticked, but state unchanged since the last snapshot' };
  }
  return { fires: true, trigger, reason: `${trigger} ticked and the state changed` };
}

/** The backup-now request as a rule: fires whenever asked, even on an unchanged state (a person asked). */
/**
 * A policy backup that left out files still being written (a slow checkpoint write, a file rewritten
 * during the copy) is followed by a backup as soon as they have settled: the policy's own rule
 * (every N epochs) already counted it, and would otherwise leave that epoch's only backup incomplete.
 */
export function completesRule(facts: Facts): RuleOutcome | null {
  const c = facts.completes;
  if (c === null || c === undefined || c.paths.length === 0) return null;
  const names = c.paths.length <= 3 ? c.paths.join(', ') : `${c.paths.slice(0, 3).join(', ')} and ${c.paths.length - 3} more`;
  const they = c.paths.length === 1 ? 'it has' : 'they have';
  return { fires: true, trigger: 'completes', reason: `backup ${c.id} left out ${names} (still being written then); ${they} settled, so this state is backed up whole` };
}

export function backupNowRule(facts: Facts): RuleOutcome | null {
  if (!facts.backupNow) return null;
  return { fires: true, trigger: 'backup-now', reason: 'a backup was asked for (backup-now)' };
}
