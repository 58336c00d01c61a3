/**
 * Runs one `StoreOp` against a run's store. The caller holds the store (the daemon that owns it, or
 * a CLI command holding the lock), so every check here is made again at the moment of acting.
 */
import type { RunConfig } from '../config/types.js';
import { storeOf } from '../store/local-store.js';
import { formatBytes } from '../util/format.js';
import { SafetyError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { executeDelete, planDelete } from './delete.js';
import { executeRemoteOp, isRemoteOp, type RemoteOp } from './execute-remote.js';
import { queueIfPushed } from './push.js';
import { updateLabels } from './labels.js';
import { restoreSnapshot, type RestoreResult } from './restore.js';
import { renderPlan, planJson } from './render-plan.js';
import { applyPlan, planStore } from './retention.js';
import type { OpOutcome, StoreOp } from './types.js';

export interface OpContext {
  logger: Logger;
  now: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * The signal of the store lock the operation was started under (the daemon's run): once that
   * lock is gone, every write of the operation refuses, even if this process holds another lock
   * on the same store by then (a run renamed). Default: the lock this process holds on the store.
   */
  signal?: AbortSignal;
}

export async function executeOp(run: RunConfig, op: StoreOp, ctx: OpContext): Promise<OpOutcome> {
  if (op.kind === 'restore' && op.to === null && op.target !== undefined && op.target !== run.path) {
    throw new SafetyError(
      `the config file changed: run ${run.name} now restores into ${run.path}, not ${op.target} as the restore was confirmed for; nothing was restored. Look at the restore again to see what it would do there`,
    );
  }
  const outcome = isRemoteOp(op)
    ? await executeRemoteOp(run, op, ctx, (id, r) => ({ message: describeRestore(id, r), data: { id, ...toJson(r) } }))
    : await executeLocalOp(run, op, ctx);
  // The pre-restore snapshot is pushed as the daemon pushes what it takes (push: backups sends it).
  const pre = outcome.data.pre_restore;
  if (op.kind === 'restore' && typeof pre === 'string') await queueIfPushed(run, { id: pre, kind: 'pre-restore' }, ctx.now);
  return outcome;
}

async function executeLocalOp(run: RunConfig, op: Exclude<StoreOp, RemoteOp>, ctx: OpContext): Promise<OpOutcome> {
  switch (op.kind) {
    case 'label': {
      const meta = await updateLabels(run.store, op.id, { name: op.name, notes: op.notes, pinned: op.pinned }, ctx.signal);
      const what = [
        op.name !== undefined ? `name ${meta.name === null ? 'cleared' : `"${meta.name}"`}` : null,
        op.notes !== undefined ? (meta.notes === null ? 'notes cleared' : 'notes set') : null,
        op.pinned !== undefined ? (meta.pinned ? 'pinned' : 'unpinned') : null,
      ].filter((x) => x !== null);
      ctx.logger.info(`${meta.kind} ${meta.id}: ${what.join(', ')}`, { event: 'label', id: meta.id });
      return { message: `${meta.id}: ${what.join(', ')}`, data: { id: meta.id, name: meta.name, notes: meta.notes, pinned: meta.pinned } };
    }
    case 'delete': {
      const plan = await planDelete(run.store, op.ids, op.force);
      const done = await executeDelete(run.store, plan, run.save.to, ctx.signal);
      for (const id of done.deleted) ctx.logger.info(`deleted ${id} (asked for by ckptd delete)`, { event: 'delete', id, reasons: ['asked for'] });
      const kept = done.kept.map((k) => `\n  left in place: ${k.path} (${k.reason})`).join('');
      return {
        message: `deleted ${done.deleted.join(', ')}; freed ${formatBytes(plan.freedBytes)}${kept}`,
        data: { deleted: done.deleted, freed_bytes: plan.freedBytes, left_in_place: done.kept },
      };
    }
    case 'prune': {
      const plan = await planStore(run, ctx.now);
      const deleted = await applyPlan(run, plan, null, ctx.logger, ctx.signal);
      return { message: renderPlan(plan, false), data: { ...planJson(plan), deleted } };
    }
    case 'restore': {
      const meta = await storeOf(run.store).resolve(op.id);
      if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save (an exported model file), not a snapshot; its file is at ${meta.path}`);
      const r = await restoreSnapshot({
        run,
        snapshot: meta,
        to: op.to,
        force: op.force,
        now: ctx.now,
        logger: ctx.logger,
        ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      ctx.logger.info(describeRestore(meta.id, r), { event: 'restore', id: meta.id, pre_restore: r.preRestoreId });
      return { message: describeRestore(meta.id, r), data: { id: meta.id, ...toJson(r) } };
    }
  }
}

function describeRestore(id: string, r: RestoreResult): string {
  const parts = [`restored ${id} into ${r.target}: ${r.written.length} file(s) written (${formatBytes(r.bytesWritten)})`];
  if (r.unchanged.length > 0) parts.push(`${r.unchanged.length} already identical`);
  if (r.removed.length > 0) parts.push(`${r.removed.length} removed`);
  if (r.leftInPlace.length > 0) parts.push(`${r.leftInPlace.length} left in place because they changed meanwhile or the pre-restore snapshot could not keep them: ${r.leftInPlace.join(', ')}`);
  if (r.keptLeftOut.length > 0) parts.push(`${r.keptLeftOut.length} kept as they are: the snapshot left them out and holds no version of them: ${r.keptLeftOut.join(', ')}`);
  if (r.notReplaced.length > 0) parts.push(`${r.notReplaced.length} not restored: what is at their path (a file the config now leaves out, or a folder still holding such or files left in place) is left as it is: ${r.notReplaced.join(', ')}`);
  if (r.preRestoreId) parts.push(`the previous state is snapshot ${r.preRestoreId} (pre-restore)`);
  return parts.join('; ');
}

function toJson(r: RestoreResult): Record<string, unknown> {
  return {
    target: r.target,
    pre_restore: r.preRestoreId,
    written: r.written,
    unchanged: r.unchanged,
    removed: r.removed,
    left_in_place: r.leftInPlace,
    not_replaced: r.notReplaced,
    kept_left_out: r.keptLeftOut,
    bytes_written: r.bytesWritten,
  };
}
