/**
 * `<store>/push-queue.json`: what waits to go up to the remote (SPEC section 8), so the queue and
 * every half-finished multipart upload survive a restart. Written only by the store's lock holder
 * (the daemon, or a command holding the lock), atomically through `durable.ts`; read by anyone
 * (`status`, retention). A missing or unreadable file is an empty queue: nothing is lost by that
 * but the resume of a half-sent part, which is then sent again.
 */
import fsp from 'node:fs/promises';
import { isUploadState, type UploadState } from './remote/upload-state.js';
import { writeFileAtomic } from './durable.js';
import { pushQueueFile } from './layout.js';

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
}

export const EMPTY_QUEUE: PushQueue = { items: [], last_pushed: null };

/** The queue of the store `store`; `EMPTY_QUEUE` when there is none or it is not readable. */
export async function readPushQueue(store: string): Promise<PushQueue> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(pushQueueFile(store), 'utf8'));
  } catch {
    return { items: [], last_pushed: null };
  }
  const q = raw as Partial<PushQueue>;
  const items = Array.isArray(q.items) ? q.items.filter(isPushItem) : [];
  const last = q.last_pushed;
  const lastPushed = typeof last === 'object' && last !== null && typeof last.id === 'string' && typeof last.at === 'number' ? { id: last.id, at: last.at } : null;
  return { items, last_pushed: lastPushed };
}

/**
 * What a person sees of the queue of `store`, as a string that changes when that does: the records
 * queued, failing, being sent, and the last pushed (not each part sent, which changes too often).
 */
export async function pushQueueSignature(store: string): Promise<string> {
  const q = await readPushQueue(store);
  const items = q.items.map((i) => `${i.id}:${i.failures}:${i.next_try ?? ''}:${Object.keys(i.uploads).length > 0 ? 'sending' : ''}`);
  return [...items, `last:${q.last_pushed?.id ?? ''}:${q.last_pushed?.at ?? ''}`].join('\n');
}

/** Replaces the queue of `store`, atomically and durably. */
export async function writePushQueue(store: string, queue: PushQueue): Promise<void> {
  await writeFileAtomic(pushQueueFile(store), `${JSON.stringify(queue, null, 1)}\n`);
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
