/**
 * Pushing records to the remote (SPEC section 8): queueing what the policy says goes up, then
 * sending the queue in order, each record all or nothing (its blobs, then its manifest), resumable
 * (multipart states persisted in the queue after every part), with retries backed off per record.
 * The caller holds the local store's lock: the queue file has one writer.
 */
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import { isPushedKind, planPush, retryDelayMs, type PushCandidate, type PushSkipCode } from '../policy/push-plan.js';
import { storeOf } from '../store/local-store.js';
import { MAX_REMOVED_REMOTE, readPushQueue, writePushQueue, type PushItem, type PushQueue } from '../store/push-queue-file.js';
import { FileChangedError } from '../store/errors.js';
import { RemoteError } from '../store/remote/remote-errors.js';
import type { RemoteStore } from '../store/remote/remote-store.js';
import type { ReadSnapshotHeader, Store, StoreRecord } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { formatBytes } from '../util/format.js';
import { duringPush } from './remote-turns.js';

/** What the push decides from before it reads a record's manifest. */
type RecordHeader = ReadSnapshotHeader | StoreRecord;

/** Per store, the tail of the chain of queue operations of this process: one at a time. */
const queueChains = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every queue operation of this process on `store` started before it: the daemon's
 * background pusher, `ckptd push` through the daemon and new snapshots never write the queue at once.
 */
function serialized<T>(store: string, fn: () => Promise<T>): Promise<T> {
  const prev = queueChains.get(store) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  queueChains.set(store, tail);
  void tail.then(() => {
    if (queueChains.get(store) === tail) queueChains.delete(store);
  });
  return next;
}

/**
 * Adds `ids` (just committed locally) to the push queue without asking the remote: the daemon
 * calls it right after a snapshot so retention keeps the snapshot until it is pushed; a record the
 * remote already has is found so at push time and costs a listing, not an upload.
 */
export function enqueueForPush(store: string, ids: string[], now: number): Promise<void> {
  return serialized(store, async () => {
    const queue = await readPushQueue(store);
    const have = new Set(queue.items.map((i) => i.id));
    const fresh = ids.filter((id) => !have.has(id));
    if (fresh.length === 0) return;
    const at = new Date(now).toISOString();
    queue.items.push(...fresh.map((id): PushItem => ({ id, queued: at, failures: 0, next_try: null, error: null, uploads: {} })));
    await writePushQueue(store, queue);
  });
}

/**
 * Queues a record just committed to the run's store for push when the run has a remote that pushes
 * its kind (`remote.push`), as the daemon queues what it takes: a snapshot, backup or pre-restore
 * taken by a command without a daemon is then kept by retention and sent by the next push like
 * the daemon's own. Returns whether it was queued.
 */
export async function queueIfPushed(run: RunConfig, record: { id: string; kind: StoreRecord['kind'] }, now: number): Promise<boolean> {
  if (run.remote === null || !isPushedKind(record.kind, run.remote.push)) return false;
  await enqueueForPush(run.store, [record.id], now);
  return true;
}

/**
 * Notes in the push queue of `store` that `ids` were deleted from the remote by `ckptd delete
 * --remote`: a push not asked for them by id leaves them there (`planPush`).
 */
export function noteRemovedFromRemote(store: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return Promise.resolve();
  return mutate(store, (q) => {
    const kept = (q.removed_remote ?? []).filter((id) => !ids.includes(id));
    q.removed_remote = [...kept, ...ids].slice(-MAX_REMOVED_REMOTE);
  });
}

export interface QueueResult {
  queued: string[];
  skipped: { id: string; code: PushSkipCode; text: string }[];
}

/**
 * Adds to the run's push queue every local record the run's `remote.push` sends and the remote
 * lacks (`ids` null), or the records `ids` name (ids or unique prefixes; queued whatever their kind).
 */
export async function queueForPush(run: RunConfig, remote: RemoteStore, ids: string[] | null, now: number): Promise<QueueResult> {
  const local = storeOf(run.store);
  // Headers only: what decides is each record's id, kind and damaged mark, never its files.
  const candidates: PushCandidate[] = [];
  const add = (r: Pick<StoreRecord, 'id' | 'kind' | 'damaged'>): void => void candidates.push({ id: r.id, kind: r.kind, damaged: r.damaged === true });
  if (ids === null) [...(await local.listSnapshotHeaders()), ...(await local.listSaves())].forEach(add);
  // One at a time: each named record is read whole (a prefix resolves among them) and dropped.
  else for (const id of ids) add(await local.resolve(id));
  candidates.sort((a, b) => (a.id < b.id ? -1 : 1));
  // Asked outside the queue's turn: a slow or unreachable remote must not hold up a new snapshot's enqueue.
  const onRemote = await remote.recordIds();
  return serialized(run.store, async () => {
    const queue = await readPushQueue(run.store);
    const plan = planPush(candidates, onRemote, new Set(queue.items.map((i) => i.id)), run.remote?.push ?? 'none', ids !== null, new Set(queue.removed_remote ?? []));
    if (plan.enqueue.length > 0) {
      const at = new Date(now).toISOString();
      queue.items.push(...plan.enqueue.map((id): PushItem => ({ id, queued: at, failures: 0, next_try: null, error: null, uploads: {} })));
      await writePushQueue(run.store, queue);
    }
    return { queued: plan.enqueue, skipped: plan.skip };
  });
}

export interface PushContext {
  logger: Logger;
  now: () => number;
  signal?: AbortSignal;
  /** Bytes sent so far of the whole queue (`done`) and what the queue holds (`total`). */
  onProgress?: (done: number, total: number) => void;
  /** Try every item now, whatever its backoff says (`ckptd push`). */
  ignoreBackoff?: boolean;
  /** In [0, 1): the jitter of the backoff. */
  random?: () => number;
}

export interface PushResult {
  pushed: { id: string; sentBytes: number; presentBytes: number }[];
  /** Dropped from the queue: the local record is gone (deleted before it went up) or marked damaged. */
  dropped: string[];
  /** The failure that stopped the queue, if any (the item stays queued, backed off). */
  failed: { id: string; error: string } | null;
  /** Items left in the queue. */
  remaining: number;
}

/**
 * Sends the queued records in order, each by `remote.putRecord` from the local store. Stops at the
 * first failure (the network is likely down for the rest too): that item is backed off
 * (`retryDelayMs`) with its error and resume states kept. Items not yet due are left for later
 * unless `ignoreBackoff`.
 */
/** Per store, the push under way in this process (pushes run one after another). */
const pushChains = new Map<string, Promise<unknown>>();

/** Changes the queue of `store` by `change`, read and written whole, one change at a time. */
function mutate(store: string, change: (q: PushQueue) => void): Promise<void> {
  return serialized(store, async () => {
    const q = await readPushQueue(store);
    change(q);
    await writePushQueue(store, q);
  });
}

/**
 * Sends the queued records in order, each by `remote.putRecord` from the local store. Stops at the
 * first failure (the network is likely down for the rest too): that item is backed off
 * (`retryDelayMs`) with its error and resume states kept. Items not yet due are left for later
 * unless `ignoreBackoff`. Pushes of one store run one after another; records queued meanwhile
 * wait for the next push (the queue itself is never held during an upload).
 */
export function pushQueued(run: RunConfig, remote: RemoteStore, ctx: PushContext): Promise<PushResult> {
  return inPushTurn(run.store, () => duringPush(remote, () => pushNow(run, remote, ctx)));
}

/**
 * Runs `fn` in the push turn of the run whose local store is `store`: after every push and every
 * remote deletion of this process started before it. A push skips the blobs that manifests already
 * on the remote name (`known`); a deletion running beside it could remove such a manifest and let
 * the garbage collection take a blob the new manifest is about to name. Remote retention and
 * `delete --remote` therefore run in this turn too.
 */
export function inPushTurn<T>(store: string, fn: () => Promise<T>): Promise<T> {
  const prev = pushChains.get(store) ?? Promise.resolve();
  const next = prev.then(fn);
  const tail = next.catch(() => undefined);
  pushChains.set(store, tail);
  void tail.then(() => {
    if (pushChains.get(store) === tail) pushChains.delete(store);
  });
  return next;
}

async function pushNow(run: RunConfig, remote: RemoteStore, ctx: PushContext): Promise<PushResult> {
  const local = storeOf(run.store);
  const items = (await readPushQueue(run.store)).items;
  const result: PushResult = { pushed: [], dropped: [], failed: null, remaining: 0 };
  // One listing of headers, not a lookup per item (a queue grown offline may hold hundreds), and
  // each manifest read only when its record is used: a store of snapshots of 100,000 files is
  // never held whole (4 of them were ~120 MB alive at once).
  const headers = new Map<string, RecordHeader>([...(await local.listSnapshotHeaders()), ...(await local.listSaves())].map((r) => [r.id, r]));
  const readWhole = (id: string): Promise<StoreRecord | null> => local.resolve(id).then((r) => (r.id === id ? r : null), () => null);
  // Blobs that manifests already on the remote name (the local copies of records pushed before):
  // neither asked for again nor re-checked, which makes an unchanged push a listing and a manifest.
  // Listed here, in the push's turn, never taken from an earlier listing: a remote deletion of this
  // run (which runs in this turn) and its collection may have taken those blobs since.
  const onRemote = await remote.recordIds();
  // A record verify --remote found damaged names a blob that is gone or wrong: none of its blobs is taken on trust.
  const damagedThere = await remote.damagedIds();
  const known = new Set<string>();
  const addKnown = (r: StoreRecord): void => {
    for (const f of r.files) if (f.type !== 'symlink') known.add(f.sha256);
  };
  for (const id of headers.keys()) {
    if (!onRemote.has(id) || damagedThere.has(id)) continue;
    const r = await readWhole(id);
    if (r !== null) addKnown(r);
  }
  const due = (item: PushItem): boolean => ctx.ignoreBackoff === true || item.next_try === null || item.next_try <= ctx.now();
  const total = items.filter(due).reduce((n, i) => n + (headers.get(i.id)?.bytes ?? 0), 0);
  let done = 0;
  const drop = (id: string) => (q: PushQueue) => void (q.items = q.items.filter((i) => i.id !== id));
  /** Records a failed try of `item` in the queue, with its backed-off next try, and logs it. */
  const noteFailure = async (item: PushItem, message: string): Promise<void> => {
    const failures = item.failures + 1;
    const nextTry = ctx.now() + retryDelayMs(failures, (ctx.random ?? Math.random)());
    await mutate(run.store, (q) => {
      const it = q.items.find((i) => i.id === item.id);
      if (!it) return;
      it.failures = failures;
      it.error = message;
      it.next_try = nextTry;
    });
    ctx.logger.warn(`push of ${item.id} failed (attempt ${failures}), trying again in ${Math.round((nextTry - ctx.now()) / 1000)} s: ${message}`, {
      event: 'push-failed',
      id: item.id,
      failures,
    });
  };
  for (const item of items) {
    if (ctx.signal?.aborted) break;
    if (!due(item)) continue;
    const header = headers.get(item.id);
    // Read whole only now (a damaged one never is); a record deleted since the listing is gone all the same.
    // Read even when the listing left it out: that read may have failed for a moment (EMFILE, EIO).
    const record = header?.damaged === true ? null : await readWhole(item.id);
    if (header?.damaged === true || record?.damaged === true) {
      // Its stored bytes failed verification: they are never sent (and would fail their hash check forever).
      await mutate(run.store, drop(item.id));
      result.dropped.push(item.id);
      ctx.logger.warn(`push: ${item.id} failed verification (\`ckptd verify\`); dropped from the push queue, its bytes are not sent`, { event: 'push-dropped', id: item.id });
      continue;
    }
    if (record === null) {
      const unreadable = await whyUnreadable(local, item.id);
      if (unreadable !== null) {
        // Still in the store, only not readable now: dropped, it would never go up and retention
        // would no longer keep it for the remote. Tried again later; the records after it go on.
        const message = `${item.id} cannot be read from the local store (${unreadable}); it stays queued`;
        await noteFailure(item, message);
        result.failed ??= { id: item.id, error: message };
        continue;
      }
      await mutate(run.store, drop(item.id));
      result.dropped.push(item.id);
      ctx.logger.warn(`push: ${item.id} is no longer in the local store; dropped from the push queue`, { event: 'push-dropped', id: item.id });
      continue;
    }
    try {
      const r = await remote.putRecord(run.store, record, {
        known,
        resume: item.uploads,
        onState: (sha, state) =>
          mutate(run.store, (q) => {
            const it = q.items.find((i) => i.id === item.id);
            if (!it) return;
            if (state === null) delete it.uploads[sha];
            else it.uploads[sha] = state;
          }),
        onBytes: (n) => {
          done += n;
          ctx.onProgress?.(done, total);
        },
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      await mutate(run.store, (q) => {
        drop(item.id)(q);
        q.last_pushed = { id: item.id, at: ctx.now() };
      });
      addKnown(record);
      result.pushed.push({ id: item.id, sentBytes: r.sentBytes, presentBytes: r.presentBytes });
      ctx.logger.info(`pushed ${record.kind} ${item.id} to ${remote.location}: ${formatBytes(r.sentBytes)} sent, ${formatBytes(r.presentBytes)} already there`, {
        event: 'push',
        id: item.id,
        sent_bytes: r.sentBytes,
        present_bytes: r.presentBytes,
      });
    } catch (err) {
      // Stopped (the daemon is stopping): not a failure; the acknowledged parts are kept for the next start.
      if (ctx.signal?.aborted) break;
      if (await foundDamaged(local, record, err, ctx)) {
        // Its stored bytes no longer match (a bad disk, an edit in the store): retrying would fail
        // forever and hold up every record queued after it, so it goes the way of a damaged one.
        await mutate(run.store, drop(item.id));
        result.dropped.push(item.id);
        ctx.logger.warn(`push: ${item.id} failed verification (\`ckptd verify\`); marked damaged and dropped from the push queue, its bytes are not sent`, { event: 'push-dropped', id: item.id });
        continue;
      }
      const message = (err as Error).message ?? String(err);
      await noteFailure(item, message);
      result.failed = { id: item.id, error: message };
      break;
    }
  }
  result.remaining = (await readPushQueue(run.store)).items.length;
  return result;
}

/**
 * Why the queued record `id`, which could not be read, is still in the local store (listed by
 * `findBroken`: its manifest or record unreadable or invalid), or null when it is gone (deleted
 * since it was queued). A store that cannot even be listed keeps it too.
 */
async function whyUnreadable(local: Store, id: string): Promise<string | null> {
  let broken;
  try {
    broken = await local.findBroken();
  } catch (err) {
    return (err as Error).message;
  }
  const found = broken.find((p) => path.basename(p.path) === id || path.basename(p.path) === `${id}.json`);
  return found === undefined ? null : found.problem;
}

/**
 * After a push of `record` failed with `err`: true when the failure came from the local store's
 * files (a stored file changed, or a file system error) and a verification of `record` confirms
 * they are damaged; it is then marked as `ckptd verify` marks it. Other failures (the object
 * store's, an answer it should not give) cost no re-hash of the record.
 */
async function foundDamaged(local: Store, record: StoreRecord, err: unknown, ctx: PushContext): Promise<boolean> {
  if (err instanceof RemoteError) return false;
  if (!(err instanceof FileChangedError) && typeof (err as NodeJS.ErrnoException | null)?.code !== 'string') return false;
  const check = await local.verify(record).catch(() => null);
  if (check === null || check.ok) return false;
  await local.markVerified(check, ctx.now());
  return true;
}
