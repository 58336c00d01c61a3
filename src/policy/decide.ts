/**
 * `decide`: what to take for one settled state of a run, per policy, with reasons. Pure: the shell
 * gathers the facts, passes the clock in, performs the actions in order, then calls `recordTaken`.
 */
import { backupNowRule, completesRule, cronRule, everyRule, type RuleOutcome } from './rules.js';
import type { Action, Decision, Every, Facts, PolicyConfig, PolicyName, PolicyState, RunState, Skip } from './types.js';

/** Records a taken snapshot or save in the run state; see `record-taken.ts`. */
export { recordTaken } from './record-taken.js';

interface PolicyVerdict {
  action: Action | null;
  /** Why nothing fired, rule by rule; null when the policy has no rule at all (fully off). */
  skip: string | null;
  state: PolicyState;
}

/**
 * Decides, for one settled state, which of the run's two policies fire. Per policy, the rules are
 * backup-now and completes (backup only, see `completesRule`), `every`, then `cron`; the first that fires gives the action's trigger and
 * the others that also fire are named in its reason. At most one backup and one save are returned,
 * the backup first. A firing save with `backup.beforeSave` is preceded by a `before-save` backup
 * unless the backup fires anyway or this exact state (`facts.digest`) is already the last backup.
 * Every policy that does not fire and has a rule gets a Skip saying why and what comes next.
 * The returned state has changes counted, first-seen time anchors set and backward progress
 * re-anchored; it does NOT record anything as taken (the shell calls `recordTaken` after success).
 */
export function decide(config: PolicyConfig, state: RunState, facts: Facts, now: number): Decision {
  const backup = judgePolicy('backup', config.backup.every, config.backup.cron, state.backup, facts, now, [backupNowRule(facts), completesRule(facts)]);
  const save = judgePolicy('save', config.save.every, config.save.cron, state.save, facts, now, []);

  const actions: Action[] = [];
  const skips: Skip[] = [];
  let backupSkip = backup.skip;
  if (backup.action) actions.push(backup.action);
  if (save.action && !backup.action && config.backup.beforeSave) {
    if (facts.digest === state.backup.lastDigest) {
      backupSkip = joinReasons(backupSkip, 'before-save: not needed, this exact state is already backed up');
    } else {
      actions.push({ kind: 'backup', trigger: 'before-save', reason: `the save (${save.action.trigger}) is preceded by a backup of the same state` });
    }
  }
  if (save.action) actions.push(save.action);

  const backupActs = actions.some((a) => a.kind === 'backup');
  if (!backupActs && backupSkip !== null) skips.push({ kind: 'backup', reason: backupSkip });
  if (!save.action && save.skip !== null) skips.push({ kind: 'save', reason: save.skip });
  return { actions, skips, state: { backup: backup.state, save: save.state } };
}

function judgePolicy(
  policy: PolicyName,
  every: Every,
  cron: string | null,
  ps: PolicyState,
  facts: Facts,
  now: number,
  asked: (RuleOutcome | null)[],
): PolicyVerdict {
  const everyResult = everyRule(policy, every, ps, facts, now);
  const outcomes = [...asked, everyResult?.outcome ?? null, cronRule(policy, cron, ps, facts)].filter((o) => o !== null);
  const state = everyResult?.state ?? ps;
  const [first, ...others] = outcomes.filter((o) => o.fires);
  if (first) {
    const also = others.map((o) => `; also ${o.trigger}: ${o.reason}`).join('');
    return { action: { kind: policy, trigger: first.trigger, reason: first.reason + also }, skip: null, state };
  }
  const skip = outcomes.length === 0 ? null : outcomes.map((o) => `${o.trigger}: ${o.reason}`).join('; ');
  return { action: null, skip, state };
}

function joinReasons(a: string | null, b: string): string {
  return a === null ? b : `${a}; ${b}`;
}
