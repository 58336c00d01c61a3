/**
 * Retention in the style of restic's `ApplyPolicy`: a pure plan of which snapshots to keep and which
 * to remove, each carrying every reason that applies, so `prune --dry-run` and the logs can explain
 * themselves. The caller still re-checks each removal against the store before deleting.
 */
import { formatNumber } from './format.js';

/** One snapshot as retention sees it. */
export interface RetentionItem {
  id: string;
  kind: 'backup' | 'manual' | 'pre-restore';
  pinned: boolean;
  /** Creation time, ms since the Unix epoch. */
  created: number;
  /** Failed verification: not counted toward `keep`, never the "newest good backup". */
  damaged: boolean;
  metrics: Record<string, number>;
  loss: number | null;
}

/** The retention settings of a run (normalized config). */
export interface RetentionRules {
  /** When false, every backup is kept. */
  rolling: boolean;
  /** How many of the newest good backups rolling keeps. */
  keep: number;
  /** Also keep the `count` best backups by `metric` (`loss` reads `loss`, others read `metrics`). */
  keepBest: { metric: string; mode: 'min' | 'max'; count: number } | null;
}

/** One snapshot's fate and the reasons for it. */
export interface RetentionEntry {
  id: string;
  reasons: string[];
}

/** Every input snapshot appears exactly once, in `keep` or `remove`, each list newest first. */
export interface RetentionPlan {
  keep: RetentionEntry[];
  remove: RetentionEntry[];
}

/**
 * Plans retention. Rules combine with OR and a kept snapshot lists all that keep it:
 * - `manual` and `pre-restore` snapshots and pinned ones are never removed;
 * - the newest good (not damaged) backup is always kept (with no good backup at all, the newest
 *   damaged one is kept rather than leave nothing);
 * - rolling on: the newest `keep` good backups are kept, other backups are removed; rolling off:
 *   every backup is kept;
 * - `keepBest`: the `count` best good backups by the metric are kept (ties go to the newer; a backup
 *   without the metric is not a candidate).
 * `now` is accepted for future time-bucket rules and unused today. Ids are assumed unique.
 */
export function planRetention(snapshots: RetentionItem[], rules: RetentionRules, now: number): RetentionPlan {
  void now;
  const items = [...snapshots].sort(newestFirst);
  const reasons = items.map((): string[] => []);
  const keep = Math.max(0, Math.floor(rules.keep));
  const good = items.map((s, i) => ({ s, i })).filter(({ s }) => s.kind === 'backup' && !s.damaged);

  items.forEach((s, i) => {
    if (s.kind !== 'backup') reasons[i]!.push(`${s.kind} snapshots are never deleted automatically`);
    if (s.pinned) reasons[i]!.push('pinned snapshots are never deleted automatically');
  });

  const newestGood = good[0];
  if (newestGood) reasons[newestGood.i]!.push('newest good backup');
  else {
    const newestBackup = items.findIndex((s) => s.kind === 'backup');
    if (newestBackup !== -1) reasons[newestBackup]!.push('newest backup (damaged, but there is no good backup)');
  }

  if (rules.rolling) {
    good.slice(0, keep).forEach(({ i }, rank) => reasons[i]!.push(`one of the newest ${keep} backups (#${rank + 1})`));
  } else {
    items.forEach((s, i) => {
      if (s.kind === 'backup') reasons[i]!.push('rolling is off');
    });
  }

  if (rules.keepBest && rules.keepBest.count > 0) {
    const { metric, mode, count } = rules.keepBest;
    const candidates = good
      .map(({ s, i }) => ({ i, value: metric === 'loss' ? s.loss : s.metrics[metric] }))
      .filter((c): c is { i: number; value: number } => typeof c.value === 'number' && Number.isFinite(c.value));
    // Stable sort over a newest-first list: equal values keep the newer first.
    candidates.sort((a, b) => (mode === 'min' ? a.value - b.value : b.value - a.value));
    candidates.slice(0, count).forEach(({ i, value }, rank) => {
      reasons[i]!.push(`one of the ${count} best by ${metric} (${mode}): ${formatNumber(value)} (#${rank + 1})`);
    });
  }

  const plan: RetentionPlan = { keep: [], remove: [] };
  items.forEach((s, i) => {
    const why = reasons[i]!;
    if (why.length > 0) plan.keep.push({ id: s.id, reasons: why });
    else plan.remove.push({ id: s.id, reasons: [s.damaged ? `damaged, so not counted toward rolling keep=${keep}` : `beyond rolling keep=${keep}`] });
  });
  return plan;
}

function newestFirst(a: RetentionItem, b: RetentionItem): number {
  // An unreadable creation time sorts as the oldest rather than breaking the order.
  const ca = Number.isFinite(a.created) ? a.created : -Infinity;
  const cb = Number.isFinite(b.created) ? b.created : -Infinity;
  if (ca !== cb) return cb - ca;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
