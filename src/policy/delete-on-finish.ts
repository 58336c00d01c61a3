/**
 * `backup.delete_on_finish` (SPEC section 7), the plan: when `ckptd run`'s trainer finished, the
 * run's policy backups go; pinned ones and the `retention.keep_best` ones stay (like pinning,
 * keep_best is a person's explicit wish to keep those), and so do those queued for push and not
 * yet on the remote (their only copy). The newest-good-backup rule of retention
 * does not apply: deleting the resume state of a finished training is the point. Pure.
 */
import { planRetention, type RetentionItem, type RetentionRules } from './plan-retention.js';

/** Which backups go, and which stay with the reason. Every input `backup` is in exactly one list. */
export interface FinishPlan {
  remove: string[];
  keep: { id: string; reason: string }[];
}

/** Pure: plans delete_on_finish over the store's snapshots (only `backup` ones are considered). */
export function planDeleteOnFinish(snapshots: readonly RetentionItem[], keepBest: RetentionRules['keepBest'], now: number): FinishPlan {
  const best = new Set<string>();
  if (keepBest !== null) {
    // Retention's own ranking decides what keep_best protects, so both agree on "best".
    const ranked = planRetention([...snapshots], { rolling: true, keep: 0, keepBest }, now);
    for (const k of ranked.keep) if (k.reasons.some((r) => r.code === 'keep-best')) best.add(k.id);
  }
  const plan: FinishPlan = { remove: [], keep: [] };
  for (const s of snapshots) {
    if (s.kind !== 'backup') continue;
    if (s.pinned) plan.keep.push({ id: s.id, reason: 'pinned' });
    else if (best.has(s.id)) plan.keep.push({ id: s.id, reason: `one of the ${keepBest!.count} best by ${keepBest!.metric} (retention.keep_best)` });
    // Its only copy until the push: deleting it here would lose it for good.
    else if (s.awaitingPush === true && !s.damaged) plan.keep.push({ id: s.id, reason: 'queued for push to the remote, not there yet (delete it with ckptd delete once pushed)' });
    else plan.remove.push(s.id);
  }
  return plan;
}
