/**
 * Retention in the style of restic's `ApplyPolicy`: a pure plan of which snapshots to keep and which
 * to remove, each carrying every reason that applies, so `prune --dry-run` and the logs can explain
 * themselves. The caller still re-checks each removal against the store before deleting.
 *
 * Over 300 lines on purpose: every keep and remove rule lives here with its reason code, so the
 * plan, its reasons and its invariants (tested with fast-check) are checked in one place.
 */
import { formatBytes, formatNumber } from './format.js';

/** One snapshot as retention sees it. */
export interface RetentionItem {
  id: string;
  kind: 'backup' | 'manual' | 'pre-restore';
  pinned: boolean;
  /** Creation time, ms since the Unix epoch. */
  created: number;
  /** Failed verification: not counted toward `keep`, never the "newest good backup". */
  damaged: boolean;
  /**
   * Files were left out when it was taken (its `skipped` list is not empty): never the "newest good
   * backup", never counted among the `keep` newest that push complete backups out. Omitted: false.
   */
  incomplete?: boolean;
  metrics: Record<string, number>;
  loss: number | null;
  /**
   * Queued for push to the remote (SPEC section 8) and not there yet: kept until it is, unless a
   * size rule forces it out (then `warnings` say so). A damaged one is not kept for it. Omitted: false.
   */
  awaitingPush?: boolean;
  /**
   * The stored files, for the size rules: `key` identifies the inode (files with the same key are
   * hard links of one another and count once), `links` is its link count on disk (links outside
   * the snapshots given, e.g. a save, keep the bytes from being freed). Omitted: size 0.
   */
  files?: readonly { key: string; size: number; links: number }[];
  /**
   * Inodes removing it frees besides those of `files`: its folders and symlinks, never shared with
   * another snapshot. Omitted: 0.
   */
  ownInodes?: number;
}

/** The size rules: a cap on the store, and bytes and inodes that must be freed before a snapshot. */
export interface SizeRules {
  /** `retention.max_size`: remove the oldest unprotected backups until the store fits. */
  maxSizeBytes: number | null;
  /** Free at least this much (`min_free` before a snapshot of a known size); 0 for none. */
  freeBytesNeeded: number;
  /**
   * Free at least this many inodes (files and folders: a snapshot of many small files can need
   * more than its file system has left, whatever its free bytes); omitted or 0 for none.
   */
  freeInodesNeeded?: number;
  /** A backup younger than this is never removed by a size rule alone. */
  minAgeMs: number;
}

/** The retention settings of a run (normalized config). */
export interface RetentionRules {
  /** When false, every backup is kept. */
  rolling: boolean;
  /** How many of the newest good backups rolling keeps. */
  keep: number;
  /** Also keep the `count` best backups by `metric` (`loss` reads `loss`, others read `metrics`). */
  keepBest: { metric: string; mode: 'min' | 'max'; count: number } | null;
  /** Keep the newest good backup of each of the last N hours / days / weeks (UTC) that have one. */
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  size?: SizeRules;
  /**
   * Snapshots the store relies on now, each with why: its newest good backup (the store orders by
   * id, which stays ahead of `created` when the clock went back), a capture's link source. Kept by
   * every rule, size rules included.
   */
  inUse?: readonly { id: string; why: string }[];
}

/**
 * Why retention keeps a snapshot or save (restic's `KeepReason`, as codes): code branches on these,
 * never on the text.
 */
export type KeepReasonCode =
  /** A `manual` or `pre-restore` snapshot. */
  | 'kind'
  | 'pinned'
  | 'newest-good'
  /** One of `RetentionRules.inUse`. */
  | 'in-use'
  /** The newest backup when there is no good one (incomplete, else damaged). */
  | 'newest-fallback'
  /** One of the newest `keep` good backups. */
  | 'rolling'
  /** Incomplete, but among the newest `keep` backups of all. */
  | 'rolling-incomplete'
  | 'rolling-off'
  | 'keep-best'
  | 'keep-hourly'
  | 'keep-daily'
  | 'keep-weekly'
  /** Queued for push to the remote and not there yet. */
  | 'awaiting-push'
  /** `save.keep` is not set: every save stays. */
  | 'save-keep-unset'
  /** One of the newest `save.keep` saves. */
  | 'save-keep';

/** Why retention removes one. */
export type RemoveReasonCode =
  | 'damaged'
  | 'beyond-rolling'
  | 'incomplete-beyond-rolling'
  | 'max-size'
  | 'min-free'
  /** Inodes (files and folders) must be freed for the next snapshot. */
  | 'min-free-inodes'
  /** A keep reason that a size rule overrode (listed after `max-size` or `min-free`). */
  | 'overridden'
  | 'beyond-save-keep';

/** One reason: its code, and the text people read (`prune`, the log). */
export interface RetentionReason {
  code: KeepReasonCode | RemoveReasonCode;
  text: string;
}

/** One snapshot's fate and the reasons for it. */
export interface RetentionEntry {
  id: string;
  reasons: RetentionReason[];
}

/** The texts of `reasons`, in order. */
export function reasonTexts(reasons: readonly RetentionReason[]): string[] {
  return reasons.map((r) => r.text);
}

function reason(code: KeepReasonCode | RemoveReasonCode, text: string): RetentionReason {
  return { code, text };
}

/** Every input snapshot appears exactly once, in `keep` or `remove`, each list newest first. */
export interface RetentionPlan {
  keep: RetentionEntry[];
  remove: RetentionEntry[];
  /** Bytes the removals free (with `files` given). */
  freedBytes: number;
  /** Inodes the removals free (with `files` and `ownInodes` given). */
  freedInodes: number;
  /** Bytes the kept snapshots hold together after the plan (with `files` given). */
  keptBytes: number;
  /** Loud problems: a size rule that could not be met, and why. */
  warnings: string[];
}

/**
 * Plans retention. A backup is *good* when it is neither damaged nor incomplete (files left out).
 * Rules combine with OR and a kept snapshot lists all that keep it:
 * - `manual` and `pre-restore` snapshots and pinned ones are never removed;
 * - the newest good backup is always kept (with no good backup at all, the newest backup is kept
 *   rather than leave nothing: an incomplete one before a damaged one), and so is every `inUse` one;
 * - rolling on: the newest `keep` good backups are kept; an incomplete (not damaged) backup is kept
 *   on its own while it is among the newest `keep` backups of all, so it never takes the place of a
 *   complete one: a complete backup is never removed to make room for incomplete ones; other
 *   backups are removed. Rolling off: every backup is kept;
 * - `keepBest`: the `count` best good backups by the metric are kept (ties go to the newer; a backup
 *   without the metric is not a candidate).
 * - `keepHourly`/`keepDaily`/`keepWeekly`: the newest good backup of each of the last N periods
 *   (UTC hours, days, ISO weeks from Monday) that hold one, as restic's `forget` does;
 * - a backup awaiting push (not damaged) is kept until it is on the remote;
 * - size rules last: while the kept set holds more than `maxSizeBytes`, or has freed less than
 *   `freeBytesNeeded` or fewer inodes than `freeInodesNeeded`, the oldest backup that no other rule protects is removed, except the newest
 *   good backup, pinned, `keepBest` ones and those younger than `minAgeMs`. Rolling, time-bucket
 *   and awaiting-push reasons do not protect against the size cap (a backup removed before it
 *   reached the remote is named in `warnings`). When the rules cannot be met, `warnings` say so.
 * Ids are assumed unique.
 */
export function planRetention(snapshots: RetentionItem[], rules: RetentionRules, now: number): RetentionPlan {
  const items = [...snapshots].sort(newestFirst);
  const reasons = items.map((): RetentionReason[] => []);
  const keep = Math.max(0, Math.floor(rules.keep));
  const good = items.map((s, i) => ({ s, i })).filter(({ s }) => s.kind === 'backup' && !s.damaged && s.incomplete !== true);

  items.forEach((s, i) => {
    if (s.kind !== 'backup') reasons[i]!.push(reason('kind', `${s.kind} snapshots are never deleted automatically`));
    if (s.pinned) reasons[i]!.push(reason('pinned', 'pinned snapshots are never deleted automatically'));
  });

  const newestGood = good[0];
  if (newestGood) reasons[newestGood.i]!.push(reason('newest-good', 'newest good backup'));
  else {
    const newestIncomplete = items.findIndex((s) => s.kind === 'backup' && !s.damaged);
    const newestBackup = items.findIndex((s) => s.kind === 'backup');
    if (newestIncomplete !== -1) reasons[newestIncomplete]!.push(reason('newest-fallback', 'newest backup (incomplete, but there is no complete one)'));
    else if (newestBackup !== -1) reasons[newestBackup]!.push(reason('newest-fallback', 'newest backup (damaged, but there is no good backup)'));
  }

  for (const u of rules.inUse ?? []) {
    const i = items.findIndex((s) => s.id === u.id);
    // The newest good backup is kept by its own reason already (and by the same size-rule guard).
    if (i !== -1 && !reasons[i]!.some((r) => r.code === 'newest-good' || r.code === 'in-use')) reasons[i]!.push(reason('in-use', u.why));
  }

  if (rules.rolling) {
    good.slice(0, keep).forEach(({ i }, rank) => reasons[i]!.push(reason('rolling', `one of the newest ${keep} backups (#${rank + 1})`)));
    // Incomplete ones roll among all backups: they never push a complete one out of `keep`.
    items
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => s.kind === 'backup' && !s.damaged)
      .slice(0, keep)
      .forEach(({ s, i }, rank) => {
        if (s.incomplete === true) reasons[i]!.push(reason('rolling-incomplete', `incomplete, but one of the newest ${keep} backups (#${rank + 1})`));
      });
  } else {
    items.forEach((s, i) => {
      if (s.kind === 'backup') reasons[i]!.push(reason('rolling-off', 'rolling is off'));
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
      reasons[i]!.push(reason('keep-best', `one of the ${count} best by ${metric} (${mode}): ${formatNumber(value)} (#${rank + 1})`));
    });
  }

  const buckets: [number | undefined, string, KeepReasonCode, (t: number) => string][] = [
    [rules.keepHourly, 'keep_hourly', 'keep-hourly', hourOf],
    [rules.keepDaily, 'keep_daily', 'keep-daily', dayOf],
    [rules.keepWeekly, 'keep_weekly', 'keep-weekly', weekOf],
  ];
  for (const [n, name, code, period] of buckets) {
    if (!n || n <= 0) continue;
    const seen = new Set<string>();
    for (const { s, i } of good) {
      if (!Number.isFinite(s.created)) continue;
      const key = period(s.created);
      if (seen.has(key)) continue;
      seen.add(key);
      reasons[i]!.push(reason(code, `newest of ${key} (${name} ${n}, #${seen.size})`));
      if (seen.size >= n) break;
    }
  }

  items.forEach((s, i) => {
    if (s.awaitingPush === true && !s.damaged) reasons[i]!.push(reason('awaiting-push', 'queued for push to the remote, not there yet'));
  });

  const removed = items.map((_, i) => reasons[i]!.length === 0);
  const removeWhy = items.map((s): RetentionReason[] =>
    s.damaged
      ? [reason('damaged', `damaged, so not counted toward rolling keep=${keep}`)]
      : s.incomplete === true && rules.rolling
        ? [reason('incomplete-beyond-rolling', `incomplete (files were left out), beyond rolling keep=${keep}`)]
        : rules.rolling
          ? [reason('beyond-rolling', `beyond rolling keep=${keep}`)]
          : [],
  );
  const sizes = new SizeLedger(items);
  items.forEach((_, i) => {
    if (removed[i]) sizes.remove(i);
  });
  const warnings: string[] = [];
  if (rules.size) applySizeRules(items, reasons, removed, removeWhy, sizes, rules.size, newestGood?.i ?? null, now, warnings);

  const plan: RetentionPlan = { keep: [], remove: [], freedBytes: sizes.freed, freedInodes: sizes.freedInodes, keptBytes: sizes.kept, warnings };
  items.forEach((s, i) => {
    if (removed[i]) plan.remove.push({ id: s.id, reasons: removeWhy[i]! });
    else plan.keep.push({ id: s.id, reasons: reasons[i]! });
  });
  return plan;
}

/** Removes the oldest removable backups until the size rules hold; records why, or warns. */
function applySizeRules(
  items: RetentionItem[],
  reasons: RetentionReason[][],
  removed: boolean[],
  removeWhy: RetentionReason[][],
  sizes: SizeLedger,
  rules: SizeRules,
  newestGood: number | null,
  now: number,
  warnings: string[],
): void {
  const inodesNeeded = rules.freeInodesNeeded ?? 0;
  const over = (): boolean =>
    (rules.maxSizeBytes !== null && sizes.kept > rules.maxSizeBytes) || sizes.freed < rules.freeBytesNeeded || sizes.freedInodes < inodesNeeded;
  if (!over()) return;
  const protectedBy = (s: RetentionItem, i: number): string | null => {
    if (s.kind !== 'backup') return `${s.kind} snapshot`;
    if (s.pinned) return 'pinned';
    if (i === newestGood) return 'newest good backup';
    if (reasons[i]!.some((r) => r.code === 'keep-best')) return 'keep_best';
    if (reasons[i]!.some((r) => r.code === 'in-use')) return 'in use';
    if (now - s.created < rules.minAgeMs) return 'too young to be removed by a size rule';
    return null;
  };
  // Oldest first.
  for (let i = items.length - 1; i >= 0 && over(); i--) {
    const s = items[i]!;
    if (removed[i] || protectedBy(s, i) !== null) continue;
    const why =
      rules.maxSizeBytes !== null && sizes.kept > rules.maxSizeBytes
        ? reason('max-size', `the store holds ${formatBytes(sizes.kept)}, over max_size ${formatBytes(rules.maxSizeBytes)}: oldest unprotected backup`)
        : sizes.freed < rules.freeBytesNeeded
          ? reason('min-free', `${formatBytes(rules.freeBytesNeeded)} must be freed to stay above min_free: oldest unprotected backup`)
          : reason('min-free-inodes', `${inodesNeeded} files and folders (inodes) must be freed for the next snapshot: oldest unprotected backup`);
    removed[i] = true;
    removeWhy[i] = [why, ...reasons[i]!.map((r) => reason('overridden', `overrides: ${r.text}`))];
    sizes.remove(i);
    if (reasons[i]!.some((r) => r.code === 'awaiting-push')) {
      warnings.push(`backup ${s.id} was deleted before it reached the remote: ${why.text}; free disk space or raise the limit so backups stay until they are pushed`);
    }
  }
  if (rules.maxSizeBytes !== null && sizes.kept > rules.maxSizeBytes) {
    warnings.push(`the store still holds ${formatBytes(sizes.kept)}, over max_size ${formatBytes(rules.maxSizeBytes)}: everything left is protected (pinned, manual, pre-restore, keep_best, the newest good backup, in use, or younger than the minimum age)`);
  }
  if (sizes.freed < rules.freeBytesNeeded) {
    warnings.push(`only ${formatBytes(sizes.freed)} of the ${formatBytes(rules.freeBytesNeeded)} needed could be freed: everything left is protected`);
  }
  if (sizes.freedInodes < inodesNeeded) {
    warnings.push(`only ${sizes.freedInodes} of the ${inodesNeeded} files and folders (inodes) needed could be freed: everything left is protected`);
  }
}

/**
 * Bytes held by the kept snapshots and freed by the removed ones, counting each inode once, and
 * the inodes the removed ones free.
 */
class SizeLedger {
  private readonly holders = new Map<string, { size: number; links: number; kept: number; total: number }>();
  private readonly files: (readonly { key: string; size: number; links: number }[])[];
  private readonly ownInodes: number[];
  kept = 0;
  freed = 0;
  freedInodes = 0;

  constructor(items: RetentionItem[]) {
    this.files = items.map((s) => s.files ?? []);
    this.ownInodes = items.map((s) => s.ownInodes ?? 0);
    for (const files of this.files) {
      for (const f of files) {
        const h = this.holders.get(f.key) ?? { size: f.size, links: f.links, kept: 0, total: 0 };
        if (h.kept === 0) this.kept += f.size;
        h.kept++;
        h.total++;
        this.holders.set(f.key, h);
      }
    }
  }

  remove(i: number): void {
    this.freedInodes += this.ownInodes[i]!;
    for (const f of this.files[i]!) {
      const h = this.holders.get(f.key)!;
      h.kept--;
      if (h.kept === 0) {
        this.kept -= h.size;
        // Freed only when no link outside the given snapshots (a save, a stray copy) holds it.
        if (h.links <= h.total) {
          this.freed += h.size;
          this.freedInodes++;
        }
      }
    }
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

function hourOf(t: number): string {
  return `hour ${iso(t).slice(0, 13)}:00Z`;
}

function dayOf(t: number): string {
  return `day ${iso(t).slice(0, 10)}`;
}

function weekOf(t: number): string {
  const d = new Date(t);
  const monday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - ((d.getUTCDay() + 6) % 7) * 86_400_000;
  return `week of ${iso(monday).slice(0, 10)}`;
}

function newestFirst(a: RetentionItem, b: RetentionItem): number {
  // An unreadable creation time sorts as the oldest rather than breaking the order.
  const ca = Number.isFinite(a.created) ? a.created : -Infinity;
  const cb = Number.isFinite(b.created) ? b.created : -Infinity;
  if (ca !== cb) return cb - ca;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** One save as `save.keep` sees it. */
export interface SaveItem {
  id: string;
  created: number;
  pinned: boolean;
}

/**
 * `save.keep`: the newest `keep` saves stay, pinned ones always; null keeps every save. Pure; each
 * entry carries its reason, as in `planRetention`.
 */
export function planSaveRetention(saves: SaveItem[], keep: number | null): { keep: RetentionEntry[]; remove: RetentionEntry[] } {
  const sorted = [...saves].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  const out = { keep: [] as RetentionEntry[], remove: [] as RetentionEntry[] };
  sorted.forEach((s, i) => {
    const reasons: RetentionReason[] = [];
    if (keep === null) reasons.push(reason('save-keep-unset', 'save.keep is not set'));
    else if (i < keep) reasons.push(reason('save-keep', `one of the newest ${keep} saves (#${i + 1})`));
    if (s.pinned) reasons.push(reason('pinned', 'pinned saves are never deleted automatically'));
    if (reasons.length > 0) out.keep.push({ id: s.id, reasons });
    else out.remove.push({ id: s.id, reasons: [reason('beyond-save-keep', `beyond save.keep=${keep}`)] });
  });
  return out;
}
