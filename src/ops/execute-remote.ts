/**
 * The store operations that reach the run's remote (SPEC section 8): `push`, `pull`,
 * `restore --remote` and `delete --remote`. Run like every `StoreOp`, by the daemon holding the
 * local store or by a command holding its lock, so the push queue and the local store have one writer.
 */
import type { RunConfig } from '../config/types.js';
import { storeOf } from '../store/local-store.js';
import type { RemoteStore } from '../store/remote/remote-store.js';
import { UsageError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';
import { executeDelete, planDelete } from './delete.js';
import type { OpContext } from './execute.js';
import { inPushTurn, noteRemovedFromRemote, pushQueued, queueForPush } from './push.js';
import { openRunRemote } from './remote-open.js';
import { applyRemoteRetention, collectGarbageNow, GC_DEFERRED } from './remote-retention.js';
import { restoreSnapshot, type RestoreResult } from './restore.js';
import type { OpOutcome, StoreOp } from './types.js';

export type RemoteOp = Extract<StoreOp, { kind: 'push' | 'pull' }> | (Extract<StoreOp, { kind: 'restore' | 'delete' }> & { remote: true });

/** True when `op` reaches the remote. */
export function isRemoteOp(op: StoreOp): op is RemoteOp {
  return op.kind === 'push' || op.kind === 'pull' || ((op.kind === 'restore' || op.kind === 'delete') && op.remote === true);
}

/** Runs a remote operation; the remote's connections are closed when it is done. */
export async function executeRemoteOp(
  run: RunConfig,
  op: RemoteOp,
  ctx: OpContext,
  describeRestore: (id: string, r: RestoreResult) => { message: string; data: Record<string, unknown> },
): Promise<OpOutcome> {
  const remote = await openRunRemote(run);
  try {
    return await execute(run, remote, op, ctx, describeRestore);
  } finally {
    remote.objects.close();
  }
}

async function execute(
  run: RunConfig,
  remote: RemoteStore,
  op: RemoteOp,
  ctx: OpContext,
  describeRestore: (id: string, r: RestoreResult) => { message: string; data: Record<string, unknown> },
): Promise<OpOutcome> {
  switch (op.kind) {
    case 'push': {
      const q = await queueForPush(run, remote, op.ids.length > 0 ? op.ids : null, ctx.now);
      const r = await pushQueued(run, remote, { logger: ctx.logger, now: Date.now, ignoreBackoff: true, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) });
      const kept = r.pushed.length > 0 ? await inPushTurn(run.store, () => applyRemoteRetention(run, remote, ctx.now, ctx.logger)) : null;
      const sent = r.pushed.reduce((n, p) => n + p.sentBytes, 0);
      const present = r.pushed.reduce((n, p) => n + p.presentBytes, 0);
      const lines = [
        r.pushed.length === 0 && r.failed === null ? `nothing to push to ${remote.location}` : `pushed ${r.pushed.length} record(s) to ${remote.location}: ${formatBytes(sent)} sent, ${formatBytes(present)} already there`,
        ...(op.ids.length > 0 ? q.skipped.map((s) => `  ${s.id}: ${s.text}`) : []),
        ...(r.failed ? [`push of ${r.failed.id} failed: ${r.failed.error}; it stays queued (${r.remaining} record(s) wait)`] : []),
        ...(kept && kept.deleted.length > 0 ? [`remote.keep: deleted ${kept.deleted.join(', ')} from the remote`] : []),
      ];
      const data = { pushed: r.pushed.map((p) => ({ id: p.id, sent_bytes: p.sentBytes, present_bytes: p.presentBytes })), skipped: q.skipped, dropped: r.dropped, failed: r.failed, remaining: r.remaining, remote_deleted: kept?.deleted ?? [] };
      return { message: lines.join('\n'), data };
    }
    case 'pull': {
      const record = await remote.resolve(op.id);
      if (record.kind === 'save') throw new UsageError(`${record.id} is a save; pull copies snapshots (restore a save's file with \`ckptd restore ${record.id} --remote --to DIR\`)`);
      // Pushed from here or pulled before: nothing to do (`pull ID && restore ID` goes on), unless
      // the copy here is marked damaged, which no pull can replace in place.
      const here = await storeOf(run.store).resolve(record.id).then((r) => (r.id === record.id ? r : null), () => null);
      if (here !== null && here.damaged === true) {
        throw new Error(`${record.id} is in ${run.store} but marked damaged there (\`ckptd verify\`); \`ckptd delete ${record.id}\` it, then pull it again`);
      }
      if (here !== null) return { message: `${record.id} is already in ${run.store}; nothing to pull`, data: { id: record.id, bytes: here.bytes, already_local: true } };
      const meta = await storeOf(run.store).importSnapshot(remote, record, ctx.onProgress ? { onBytes: progressOf(record.bytes, ctx.onProgress) } : {});
      ctx.logger.info(`pulled ${meta.kind} ${meta.id} from ${remote.location} (${formatBytes(meta.bytes)}, verified)`, { event: 'pull', id: meta.id });
      return { message: `pulled ${meta.id} into ${run.store} (${formatBytes(meta.bytes)}, every file verified)`, data: { id: meta.id, bytes: meta.bytes } };
    }
    case 'restore': {
      const meta = await remote.resolve(op.id);
      if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save (an exported model file), not a snapshot`);
      const r = await restoreSnapshot({ run, snapshot: meta, from: remote, to: op.to, force: op.force, now: ctx.now, logger: ctx.logger, ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}) });
      const d = describeRestore(meta.id, r);
      ctx.logger.info(`${d.message} (from ${remote.location})`, { event: 'restore', id: meta.id, pre_restore: r.preRestoreId, remote: true });
      return d;
    }
    case 'delete': {
      // In the push turn: never beside a push that counts on the manifests already there.
      const { done, gc } = await inPushTurn(run.store, async () => {
        const plan = await planDelete(remote, op.ids, op.force);
        const done = await executeDelete(remote, plan, null);
        for (const id of done.deleted) ctx.logger.info(`deleted ${id} from ${remote.location} (asked for by ckptd delete --remote)`, { event: 'delete', id, remote: true });
        // Never sent again by a push that does not name them (the daemon's catch-up, a bare `ckptd push`).
        await noteRemovedFromRemote(run.store, done.deleted).catch((err: unknown) =>
          ctx.logger.warn(`could not note in ${run.store} that ${done.deleted.join(', ')} were deleted from the remote (${(err as Error).message}); a push that does not name them may send them again`, { event: 'push-failed' }),
        );
        return { done, gc: await collectGarbageNow(remote, ctx.now, ctx.logger) };
      });
      return {
        message:
          gc === null
            ? `deleted ${done.deleted.join(', ')} from ${remote.location}; ${GC_DEFERRED}`
            : `deleted ${done.deleted.join(', ')} from ${remote.location}; ${gc.removed.length} unreferenced object(s) removed (${formatBytes(gc.removedBytes)}), ${gc.keptYoung} younger than a day kept for the next collection`,
        data: { deleted: done.deleted, remote: true, gc_deferred: gc === null, gc_removed: gc?.removed.length ?? 0, gc_removed_bytes: gc?.removedBytes ?? 0, gc_kept_young: gc?.keptYoung ?? 0 },
      };
    }
  }
}

/** `onBytes` increments as `(done, total)` progress. */
function progressOf(total: number, onProgress: (done: number, total: number) => void): (n: number) => void {
  let done = 0;
  return (n) => {
    done += n;
    onProgress(done, total);
  };
}
