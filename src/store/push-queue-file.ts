/**
 * `<store>/push-queue.json`: what waits to go up to the remote (SPEC section 8), so the queue and
 * every half-finished multipart upload survive a restart. Written only by the store's lock holder
 * (the daemon, or a command holding the lock), atomically through `durable.ts`; read by anyone
 * (`status`, retention). A missing file is an empty queue. One that exists but cannot be read or
 * parsed (a disk error, an edit by hand) is an error (`PushQueueUnreadableError`), never taken for
 * an empty queue: retention would then delete backups still waiting for the remote, and the next
 * write would replace the file, and every entry in it, with a queue of one.
 */
import fsp from 'node:fs/promises';
import { CkptdError } from '../util/errors.js';
import { isUploadState, type UploadState } from './remote/upload-state.js';
import { writeFileAtomic } from './durable.js';
import { pushQueueFile } from './layout.js';
import { assertStoreLockHeld } from './lock-signal.js';

/** One record waiting for push. */
export interface PushItem {
  id: string;
  /** ISO 8601 UTC: when it was queued. */
  queued: string;
  /** Failed attempts so far. */
  failures: number;
  /** Not tried again before this (ms since the epoch); null: at once. */
  next_try: number | null;
  /** The last failure's message, or null. */
  error: string | null;
  /** Multipart uploads under way, by blob sha256. */
  uploads: Record<string, UploadState>;
}

export interface PushQueue {
  items: PushItem[];
  /** The newest record pushed, and when (ms). */
  last_pushed: { id: string; at: number } | null;
  /**
   * Records `ckptd delete --remote` removed from the remote (newest last, at most
   * `MAX_REMOVED_REMOTE`): a push that is not asked for them by id never sends them again.
   */
  removed_remote?: string[];
}

/** How many ids `removed_remote` keeps (the oldest go first). */
export const MAX_REMOVED_REMOTE = 1000;

export const EMPTY_QUEUE: PushQueue = { items: [], last_pushed: null };

/** `push-queue.json` exists but cannot be read as a queue: nothing is pushed, and retention keeps every backup, until it can. */
export class PushQueueUnreadableError extends CkptdError {
  override readonly name = 'PushQueueUnreadableError';
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(
      `the push queue ${file} cannot be read (${why}): nothing is pushed, and retention deletes no backup, until it can. ` +
        'If it is damaged, move it away: backups taken from then on are queued again, and `ckptd push ID` sends an older one',
    );
  }
}

/**
 * The queue of the store `store`; `EMPTY_QUEUE` when there is none. Throws
 * `PushQueueUnreadableError` when the file exists but cannot be read or is not JSON (see the file
 * comment); entries of a shape it does not know are left out.
 */
export async function readPushQueue(store: string): Promise<PushQueue> {
  const file = pushQueueFile(store);
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { items: [], last_pushed: null };
    throw new PushQueueUnreadableError(file, (err as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PushQueueUnreadableError(file, 'not a JSON object');
  const q = raw as Partial<PushQueue>;
  const items = Array.isArray(q.items) ? q.items.filter(isPushItem) : [];
  const last = q.last_pushed;
  const lastPushed = typeof last === 'object' && last !== null && typeof last.id === 'string' && typeof last.at === 'number' ? { id: last.id, at: last.at } : null;
  const removed = Array.isArray(q.removed_remote) ? q.removed_remote.filter((id): id is string => typeof id === 'string') : [];
  return { items, last_pushed: lastPushed, ...(removed.length > 0 ? { removed_remote: removed } : {}) };
}

/** `readPushQueue` for readers that go on without it: a queue that cannot be read is returned as its error. */
export async function readPushQueueOrUnreadable(store: string): Promise<PushQueue | PushQueueUnreadableError> {
  return readPushQueue(store).catch((err: unknown) => {
    if (err instanceof PushQueueUnreadableError) return err;
    throw err;
  });
}

/**
 * What a person sees of the queue of `store`, as a string that changes when that does: the records
 * queued, failing, being sent, and the last pushed (not each part sent, which changes too often).
 */
export async function pushQueueSignature(store: string): Promise<string> {
  const q = await readPushQueueOrUnreadable(store);
  if (q instanceof PushQueueUnreadableError) return 'unreadable';
  const items = q.items.map((i) => `${i.id}:${i.failures}:${i.next_try ?? ''}:${Object.keys(i.uploads).length > 0 ? 'sending' : ''}`);
  return [...items, `last:${q.last_pushed?.id ?? ''}:${q.last_pushed?.at ?? ''}`].join('\n');
}

/** Replaces the queue of `store`, atomically and durably; `LockLostError` once this process lost the store's lock. */
export async function writePushQueue(store: string, queue: PushQueue): Promise<void> {
  await writeFileAtomic(pushQueueFile(store), `${JSON.stringify(queue, null, 1)}\n`, { beforeRename: () => assertStoreLockHeld(store) });
}

function isPushItem(v: unknown): v is PushItem {
  if (typeof v !== 'object' || v === null) return false;
  const i = v as PushItem;
  if (typeof i.id !== 'string' || typeof i.queued !== 'string' || typeof i.failures !== 'number') return false;
  if (i.next_try !== null && typeof i.next_try !== 'number') return false;
  if (typeof i.uploads !== 'object' || i.uploads === null) return false;
  // A malformed resume state is dropped (the blob is sent again from its start), never trusted.
  for (const [sha, s] of Object.entries(i.uploads)) if (!isUploadState(s)) delete i.uploads[sha];
  return true;
}

/**
 * The ids retention must keep for the remote: those queued, or every id when the queue cannot be
 * read (`PushQueueUnreadableError`: which backups wait is unknown, so none may go); `unreadable`
 * then says why.
 */
export async function awaitingPush(store: string): Promise<{ has: (id: string) => boolean; unreadable: string | null }> {
  const q = await readPushQueueOrUnreadable(store);
  if (q instanceof PushQueueUnreadableError) return { has: () => true, unreadable: q.message };
  const ids = new Set(q.items.map((i) => i.id));
  return { has: (id) => ids.has(id), unreadable: null };
}
