/**
 * What waits to go up to a run's remote (SPEC section 8), read from the push queue the daemon keeps
 * beside the store: shown by `ckptd status` and by the Version panel. Reads only, takes no lock.
 */
import type { RunConfig } from '../config/types.js';
import { PushQueueUnreadableError, readPushQueueOrUnreadable } from '../store/push-queue-file.js';

/** What waits to go up to the remote, from the push queue the daemon keeps beside the store. */
export interface RemoteStatus {
  url: string;
  push: string;
  queued: number;
  /** Bytes of the queued records (what is left to send, at most). */
  bytes_pending: number;
  /** The record being sent (the first queued one with an upload under way, else the first due). */
  uploading: string | null;
  last_pushed: { id: string; at: string } | null;
  /** The newest push failure still queued, with when it is tried again. */
  error: { id: string; message: string; next_try: string | null } | null;
}

/** The push status of `run` (`records` give the queued records' sizes), or null when it has no remote. */
export async function remoteStatus(run: RunConfig, records: { id: string; bytes: number }[]): Promise<RemoteStatus | null> {
  if (run.remote === null) return null;
  const q = await readPushQueueOrUnreadable(run.store);
  if (q instanceof PushQueueUnreadableError) {
    return { url: run.remote.url, push: run.remote.push, queued: 0, bytes_pending: 0, uploading: null, last_pushed: null, error: { id: 'push-queue.json', message: q.message, next_try: null } };
  }
  const bytes = new Map(records.map((r) => [r.id, r.bytes]));
  const failing = q.items.filter((i) => i.error !== null);
  const last = failing[failing.length - 1];
  const busy = q.items.find((i) => Object.keys(i.uploads).length > 0) ?? q.items.find((i) => i.next_try === null);
  return {
    url: run.remote.url,
    push: run.remote.push,
    queued: q.items.length,
    bytes_pending: q.items.reduce((n, i) => n + (bytes.get(i.id) ?? 0), 0),
    uploading: busy?.id ?? null,
    last_pushed: q.last_pushed ? { id: q.last_pushed.id, at: new Date(q.last_pushed.at).toISOString() } : null,
    error: last ? { id: last.id, message: withoutCredentials(last.error!), next_try: last.next_try === null ? null : new Date(last.next_try).toISOString() } : null,
  };
}

/** The environment variables of the AWS SDK's default chain that hold a secret or a key id. */
const CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

/**
 * `text` with the value of every credential in the environment replaced by `[credential]`: a
 * remote's error goes to people (a page, a terminal) and must never carry one, whatever the SDK
 * or the server put in its message.
 */
export function withoutCredentials(text: string): string {
  let out = text;
  for (const name of CREDENTIAL_VARS) {
    const value = process.env[name];
    if (value !== undefined && value.length >= 4) out = out.split(value).join('[credential]');
  }
  return out;
}
