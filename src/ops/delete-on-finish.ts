/**
 * `backup.delete_on_finish` (SPEC section 7): when `ckptd run`'s trainer finished (exit 0, not
 * stopped), the run's policy backups served their purpose and are deleted. `manual`, `pre-restore`
 * and pinned snapshots and saves stay, and so do the `retention.keep_best` backups: like pinning,
 * keep_best is a person's explicit wish to keep those. The newest-good-backup rule of retention
 * does not apply: deleting the resume state of a finished training is the point.
 */
import type { RunConfig } from '../config/types.js';
import type { RetentionItem } from '../policy/plan-retention.js';
import { storeOf } from '../store/local-store.js';
import { awaitingPush } from '../store/push-queue-file.js';
import type { Logger } from '../util/logger.js';
import { damagedChangedSince } from './retention.js';

/** Re-exported: the plan is pure (`policy/delete-on-finish.ts`). */
export { planDeleteOnFinish, type FinishPlan } from '../policy/delete-on-finish.js';
import { planDeleteOnFinish } from '../policy/delete-on-finish.js';

/**
 * Deletes the run's policy backups per `planDeleteOnFinish`, each re-read first and refused unless
 * it is still an unpinned `backup`, and refused once a verify changed which are damaged (the best
 * by keep_best may be another then). A refusal is logged, never fatal. Returns the ids deleted. The
 * caller holds the store lock.
 */
export async function deleteOnFinish(run: RunConfig, logger: Logger, now: number): Promise<string[]> {
  const store = storeOf(run.store);
  const snapshots = await store.listSnapshotHeaders();
  const queued = await awaitingPush(run.store);
  if (queued.unreadable !== null) logger.warn(`delete_on_finish keeps every backup as if waiting for push: ${queued.unreadable}`, { event: 'delete-on-finish-skipped' });
  const items: RetentionItem[] = snapshots.map((s) => ({
    id: s.id,
    kind: s.kind,
    pinned: s.pinned,
    created: Date.parse(s.created),
    damaged: s.damaged,
    incomplete: s.incomplete,
    metrics: s.metrics,
    loss: s.loss,
    awaitingPush: queued.has(s.id),
  }));
  const plan = planDeleteOnFinish(items, run.retention.keepBest, now);
  const damagedThen = new Set(items.filter((s) => s.damaged).map((s) => s.id));
  const deleted: string[] = [];
  for (const id of plan.remove) {
    try {
      const changed = await damagedChangedSince(run.store, items.map((s) => s.id), damagedThen, deleted);
      if (changed !== null) throw new Error(changed);
      await store.remove(id, {
        kind: 'snapshot',
        guard: (fresh) => {
          if (fresh.kind !== 'backup') return `it is a ${fresh.kind} snapshot`;
          if (fresh.pinned) return 'it is pinned';
          return null;
        },
      });
      deleted.push(id);
      logger.info(`backup ${id} deleted: backup.delete_on_finish (the trainer finished)`, { event: 'delete', id, reasons: ['delete_on_finish'] });
    } catch (err) {
      logger.warn(`backup ${id} kept: ${(err as Error).message}`, { event: 'delete-refused', id });
    }
  }
  for (const k of plan.keep) logger.info(`backup ${k.id} kept despite delete_on_finish: ${k.reason}`, { event: 'keep', id: k.id, reasons: [k.reason] });
  return deleted;
}
