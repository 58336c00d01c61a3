/**
 * Retention in the shell: gathers the facts (snapshots, their stored files' inodes and link
 * counts, saves), asks the pure core (`planRetention`, `planSaveRetention`) and, unless it is a dry
 * run, deletes what the plan removes, re-checking each one against the store first.
 */
import type { RunConfig } from '../config/types.js';
import { damagedIds } from '../store/damaged-marker.js';
import { planRetention, planSaveRetention, reasonTexts, type RetentionEntry, type RetentionItem, type RetentionPlan } from '../policy/plan-retention.js';
import { storeOf, type StoreRef } from '../store/local-store.js';
import { LockLostError } from '../store/lock-signal.js';
import { awaitingPush, readPushQueue } from '../store/push-queue-file.js';
import { unitSharer } from '../store/footprint.js';
import type { ReadSnapshotHeader } from '../store/store.js';
import type { GuardedRecord } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { isDamaged } from './delete.js';
import { ownInodesOf } from './snapshot-inodes.js';

/**
 * The snapshots of a store as retention sees them; those in `awaitingPush` (queued for the remote,
 * not there yet) are marked so. With `sizes` (the default), each with its stored files' inodes and
 * link counts (`files`) and the inodes of its folders and symlinks (`ownInodes`). Without, from the snapshots' headers alone (`listSnapshotHeaders`): no
 * manifest entry is held (tens of MB per snapshot of 100,000 files), and the plan's byte counts are
 * 0, enough for a plan with no size rule to apply (see `sizesMatter`).
 */
export async function retentionItems(ref: StoreRef, awaitingPush: { has: (id: string) => boolean } = new Set(), sizes = true): Promise<RetentionItem[]> {
  const store = storeOf(ref);
  if (!sizes) return (await store.listSnapshotHeaders()).map((s) => ({ ...retentionItemOf(s), awaitingPush: awaitingPush.has(s.id) }));
  const items: RetentionItem[] = [];
  const shared = unitSharer();
  // One snapshot read whole at a time, its stored files looked at (100,000 lstats for a run of
  // 100,000 files) and its manifest dropped: only its units stay, never every manifest at once.
  // (A remote store reads every manifest to resolve one: `remote-retention.ts` lists them once.)
  for (const h of await store.listSnapshotHeaders()) {
    const s = await store.resolve(h.id).catch(() => null);
    // Deleted since the listing: nothing left to keep or delete.
    if (s === null || s.id !== h.id || s.kind === 'save') continue;
    items.push({ ...retentionItemOf(s), awaitingPush: awaitingPush.has(s.id), files: (await store.storedUnits(s)).map(shared), ownInodes: ownInodesOf(s.files) });
  }
  return items;
}

/** What a coming snapshot must find free that the store lacks: bytes (`min_free`) and inodes. Omitted: 0. */
export interface FreeNeeded {
  bytes?: number;
  inodes?: number;
}

/**
 * Whether a plan for `run` needs the stored files' sizes: to apply `max_size`, or to free what
 * `need` says (before a snapshot).
 */
export function sizesMatter(run: RunConfig, need: FreeNeeded = {}): boolean {
  return run.retention.maxSizeBytes !== null || (need.bytes ?? 0) > 0 || (need.inodes ?? 0) > 0;
}

/** What retention knows of snapshot `s` from its header: no stored files, not awaiting a push. */
export function retentionItemOf(s: ReadSnapshotHeader): RetentionItem {
  return {
    id: s.id,
    kind: s.kind,
    pinned: s.pinned,
    created: Date.parse(s.created),
    damaged: isDamaged(s),
    incomplete: s.incomplete,
    metrics: s.metrics,
    loss: s.loss,
  };
}


/** What of `run` retention applies, as one string: an edit changed it when the strings differ. */
function retentionRulesOf(run: RunConfig): string {
  return JSON.stringify([run.backup.rolling, run.backup.keep, run.retention, run.save.keep, run.save.to]);
}

/** The run's retention rules for the core; `need` is what a coming snapshot must find free. */
export function rulesOf(run: RunConfig, need: FreeNeeded = {}, inUse: InUse[] = [], sizeOnly = false) {
  const r = run.retention;
  return {
    inUse,
    // Rolling off: every backup kept but for the size rules, which then remove the oldest first.
    rolling: sizeOnly ? false : run.backup.rolling,
    keep: run.backup.keep,
    keepBest: r.keepBest,
    keepHourly: r.keepHourly,
    keepDaily: r.keepDaily,
    keepWeekly: r.keepWeekly,
    size: { maxSizeBytes: r.maxSizeBytes, freeBytesNeeded: need.bytes ?? 0, freeInodesNeeded: need.inodes ?? 0, minAgeMs: r.minAgeMs },
  };
}

export interface StorePlan {
  snapshots: RetentionPlan;
  saves: { keep: RetentionEntry[]; remove: RetentionEntry[] };
  /**
   * What the plan was made from that may change before it is applied: the snapshots it saw
   * (`ids`), those of them marked damaged (`ckptd verify` runs without the lock) and the ids queued
   * for push (`ckptd push` is served beside the daemon's evaluation). `applyPlan` re-checks them.
   */
  basis: { ids: ReadonlySet<string>; damaged: ReadonlySet<string>; queued: { has: (id: string) => boolean } };
}

/** A snapshot retention must keep, and why (`RetentionRules.inUse`). */
export interface InUse {
  id: string;
  why: string;
}

const NEWEST_IN_STORE = "the store's newest good snapshot: what the next backup links from and a resume restores";

/**
 * Plans retention for the run's store now. With `sizeOnly`, only the size rules remove anything
 * (making room before a snapshot, `need`: a `keep` tightened since the last backup applies
 * at the next backup, never sooner). With `sizes` false (for a caller that only applies or
 * names what is removed, when `sizesMatter` says no size rule applies), the plan's byte counts
 * are 0 and no manifest entry is read into memory.
 */
export async function planStore(run: RunConfig, now: number, need: FreeNeeded = {}, sizes = true, inUse: InUse[] = [], sizeOnly = false): Promise<StorePlan> {
  const store = storeOf(run.store);
  // Backups queued for push stay until they are on the remote (the daemon's queue beside the store).
  const queued = await awaitingPush(run.store);
  const newest = await store.newestGoodHeader();
  const used = newest === null ? inUse : [{ id: newest.id, why: NEWEST_IN_STORE }, ...inUse];
  const items = await retentionItems(store, queued, sizes || sizesMatter(run, need));
  const snapshots = planRetention(items, rulesOf(run, need, used, sizeOnly), now);
  if (queued.unreadable !== null) snapshots.warnings.push(`every backup is kept as if waiting for push: ${queued.unreadable}`);
  const saves = planSaveRetention(
    (await store.listSaves()).map((s) => ({ id: s.id, created: Date.parse(s.created), pinned: s.pinned })),
    sizeOnly ? null : run.save.keep,
  );
  const basis = { ids: new Set(items.map((i) => i.id)), damaged: new Set(items.filter((i) => i.damaged).map((i) => i.id)), queued };
  return { snapshots, saves, basis };
}

/**
 * Why a plan over the snapshots `ids` of `store`, made while `damagedThen` were marked damaged, may
 * no longer be right, or null: one of them (not one deleted since, `gone`) was marked damaged or
 * found clean again since (`ckptd verify` needs no lock), which changes the newest good backups and
 * the best by keep_best.
 */
export async function damagedChangedSince(store: string, ids: Iterable<string>, damagedThen: ReadonlySet<string>, gone: readonly string[]): Promise<string | null> {
  const damaged = await damagedIds(store);
  for (const s of ids) {
    if (gone.includes(s) || damaged.has(s) === damagedThen.has(s)) continue;
    return `a verify ${damaged.has(s) ? 'marked' : 'cleared the damaged mark of'} ${s}${damaged.has(s) ? ' damaged' : ''} since it was planned; the next plan sees it`;
  }
  return null;
}

/**
 * Why removing `id` as `plan` says may no longer be right, or null: `damagedChangedSince`, or `id`
 * was queued for push since.
 */
async function changedSincePlan(store: string, plan: StorePlan, id: string, gone: readonly string[]): Promise<string | null> {
  const damaged = await damagedChangedSince(store, plan.basis.ids, plan.basis.damaged, gone);
  if (damaged !== null) return damaged;
  if (!plan.basis.queued.has(id) && (await readPushQueue(store)).items.some((i) => i.id === id)) return 'it was queued for push to the remote since retention planned';
  return null;
}

/**
 * Deletes what `plan` removes. Each snapshot is re-read first and kept if it is no longer a policy
 * backup, is pinned now, is `justTaken`, or is now the store's newest good snapshot, or when the
 * plan's basis changed (`changedSincePlan`: a damaged mark set or cleared, queued for push since); a
 * refusal is logged, never fatal. With `configNow` (the daemon's config in force, which a reload
 * replaces), nothing more is deleted once an edit changed what retention applies (`retentionRulesOf`):
 * the next retention applies the edit. A lost store lock
 * (`signal`, default: the lock this process holds) stops it at once with `LockLostError`. Returns
 * the ids deleted.
 */
export async function applyPlan(run: RunConfig, plan: StorePlan, justTaken: string | null, logger: Logger, signal?: AbortSignal, configNow?: () => RunConfig): Promise<string[]> {
  const store = storeOf(run.store);
  const planned = retentionRulesOf(run);
  const assertRulesKept = (): void => {
    if (configNow !== undefined && retentionRulesOf(configNow()) !== planned) throw new Error('the retention rules were edited since it was planned; the next retention applies them');
  };
  const opts = signal ? { signal } : {};
  const deleted: string[] = [];
  for (const w of plan.snapshots.warnings) logger.warn(`retention: ${w}`, { event: 'retention-warning' });
  // Oldest first: an interrupted prune has then removed what mattered least.
  for (const r of [...plan.snapshots.remove].reverse()) {
    try {
      // Asked again now: a verify may have marked the newest good backup damaged since the plan,
      // making this one the newest good (ids order the store, see NEWEST_IN_STORE).
      if ((await store.newestGoodHeader())?.id === r.id) throw new Error(`it is now ${NEWEST_IN_STORE}`);
      assertRulesKept();
      const changed = await changedSincePlan(run.store, plan, r.id, deleted);
      if (changed !== null) throw new Error(changed);
      const guard = (fresh: GuardedRecord): string | null => {
        if (fresh.kind !== 'backup') return `it is a ${fresh.kind} snapshot`;
        if (fresh.pinned) return 'it is pinned';
        if (fresh.id === justTaken) return 'it was just taken';
        return null;
      };
      await store.remove(r.id, { kind: 'snapshot', guard, ...opts });
      deleted.push(r.id);
      logger.info(`backup ${r.id} deleted: ${reasonTexts(r.reasons).join('; ')}`, { event: 'delete', id: r.id, reasons: reasonTexts(r.reasons) });
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      logger.warn(`backup ${r.id} kept: ${(err as Error).message}`, { event: 'delete-refused', id: r.id });
    }
  }
  for (const r of [...plan.saves.remove].reverse()) {
    try {
      assertRulesKept();
      const res = await store.remove(r.id, { kind: 'save', saveTo: run.save.to, guard: (fresh) => (fresh.pinned ? 'it is pinned' : null), ...opts });
      deleted.push(r.id);
      logger.info(`save ${r.id} deleted: ${reasonTexts(r.reasons).join('; ')}`, { event: 'delete', id: r.id, reasons: reasonTexts(r.reasons) });
      for (const k of res.kept) logger.warn(`save ${r.id}: left ${k.path} in place: ${k.reason}`, { event: 'delete-refused', id: r.id });
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      logger.warn(`save ${r.id} kept: ${(err as Error).message}`, { event: 'delete-refused', id: r.id });
    }
  }
  return deleted;
}
