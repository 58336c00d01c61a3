/**
 * Remote retention (`remote.keep`, SPEC section 8): the same pure planner as local retention over
 * the remote's snapshots (one pinned in the local store counts as pinned, and is pinned on the
 * remote), then manifests removed (each re-read first: never a manual, pre-restore or pinned one),
 * then a garbage collection of the objects no manifest names anymore, sparing anything younger
 * than the grace (another machine may be uploading it), and left for the next one while another
 * run of this process pushes to the same target. `keep: null` keeps all.
 */
import type { RemoteKeep, RunConfig } from '../config/types.js';
import { planRetention, reasonTexts, type RetentionItem, type RetentionRules } from '../policy/plan-retention.js';
import { storeOf } from '../store/local-store.js';
import type { GarbageResult, RemoteStore } from '../store/remote/remote-store.js';
import type { GuardedRecord } from '../store/types.js';
import { formatBytes } from '../util/format.js';
import type { Logger } from '../util/logger.js';
import { collectionOwed, collectUnlessPushing } from './remote-turns.js';
import { retentionItemOf } from './retention.js';

/** Why a garbage collection did not run (`collectUnlessPushing`). */
export const GC_DEFERRED = 'another run is pushing to the same remote; what no manifest names goes at the next garbage collection';

/** Blobs no manifest names are collected only when older than this (another machine may be uploading them). */
export const REMOTE_GC_GRACE_MS = 24 * 3600_000;

/**
 * `remote.keep` as the planner's rules. A count (`keep`) or any time-bucket rule turns rolling on
 * (what no rule keeps goes); with no keep rule at all (only `max_size`), every snapshot stays until the cap.
 */
export function remoteRules(keep: RemoteKeep): RetentionRules {
  const counts = keep.keepLast !== null || keep.keepBest !== null || keep.keepHourly > 0 || keep.keepDaily > 0 || keep.keepWeekly > 0;
  return {
    rolling: counts,
    keep: keep.keepLast ?? 0,
    keepBest: keep.keepBest,
    keepHourly: keep.keepHourly,
    keepDaily: keep.keepDaily,
    keepWeekly: keep.keepWeekly,
    size: { maxSizeBytes: keep.maxSizeBytes, freeBytesNeeded: 0, minAgeMs: keep.minAgeMs },
  };
}

export interface RemoteRetentionResult {
  deleted: string[];
  collected: number;
  collectedBytes: number;
}

/** Applies the run's `remote.keep` to `remote` now (nothing when it is null). */
export async function applyRemoteRetention(run: RunConfig, remote: RemoteStore, now: number, logger: Logger): Promise<RemoteRetentionResult> {
  const result: RemoteRetentionResult = { deleted: [], collected: 0, collectedBytes: 0 };
  const keep = run.remote?.keep ?? null;
  if (keep === null) return result;
  // `ckptd pin` pins the local copy: a snapshot pinned after it was pushed is pinned on the remote too.
  const pinnedHere = new Set((await storeOf(run.store).listSnapshotHeaders()).filter((s) => s.pinned).map((s) => s.id));
  // One listing: the remote reads every manifest for any of them (resolving one is no cheaper).
  const items: RetentionItem[] = [];
  for (const s of await remote.listSnapshots()) {
    const pinned = s.pinned || (pinnedHere.has(s.id) && (await pinOnRemote(remote, s.id, logger)));
    items.push({ ...retentionItemOf(s), pinned, files: await remote.storedUnits(s) });
  }
  const plan = planRetention(items, remoteRules(keep), now);
  for (const w of plan.warnings) logger.warn(`remote retention: ${w}`, { event: 'retention-warning', remote: true });
  for (const r of [...plan.remove].reverse()) {
    const guard = (fresh: GuardedRecord): string | null =>
      fresh.kind !== 'backup' ? `it is a ${fresh.kind} snapshot` : fresh.pinned || pinnedHere.has(fresh.id) ? 'it is pinned' : null;
    try {
      await remote.remove(r.id, { kind: 'snapshot', guard });
      result.deleted.push(r.id);
      logger.info(`remote backup ${r.id} deleted from ${remote.location}: ${reasonTexts(r.reasons).join('; ')}`, { event: 'delete', id: r.id, remote: true, reasons: reasonTexts(r.reasons) });
    } catch (err) {
      logger.warn(`remote backup ${r.id} kept: ${(err as Error).message}`, { event: 'delete-refused', id: r.id, remote: true });
    }
  }
  if (result.deleted.length > 0 || collectionOwed(remote)) {
    const gc = await collectGarbageNow(remote, now, logger);
    if (gc !== null) {
      result.collected = gc.removed.length;
      result.collectedBytes = gc.removedBytes;
      if (gc.removed.length > 0) logger.info(`remote: ${gc.removed.length} object(s) no manifest names removed (${formatBytes(gc.removedBytes)})`, { event: 'remote-gc' });
    }
  }
  return result;
}

/**
 * Pins the remote snapshot `id` (pinned in the local store: the pin outlives this machine), and
 * says so; true either way, since a pin that could not be written still counts here.
 */
async function pinOnRemote(remote: RemoteStore, id: string, logger: Logger): Promise<true> {
  try {
    await remote.updateLabels(id, { pinned: true });
    logger.info(`remote backup ${id} pinned on ${remote.location}, as it is in the local store`, { event: 'label', id, remote: true });
  } catch (err) {
    logger.warn(`remote backup ${id} is pinned in the local store but could not be pinned on ${remote.location}: ${(err as Error).message}; kept all the same`, { event: 'label-failed', id, remote: true });
  }
  return true;
}

/**
 * A garbage collection of `remote`'s target now, sparing what is younger than the grace; null (and
 * logged) when another run of this process is pushing there: it is owed to the next retention.
 */
export async function collectGarbageNow(remote: RemoteStore, now: number, logger: Logger): Promise<GarbageResult | null> {
  const gc = await collectUnlessPushing(remote, () => remote.collectGarbage(REMOTE_GC_GRACE_MS, now));
  if (gc === null) logger.info(`remote: ${GC_DEFERRED}`, { event: 'remote-gc-deferred' });
  return gc;
}
