/**
 * What goes up to the remote (SPEC section 8) and when to try again: pure rules for the push queue.
 * `push: backups` sends backup, manual and pre-restore snapshots; `all` also saves; `none` nothing.
 * A damaged record is never sent (its bytes failed verification); one already on the remote or
 * already queued is not queued twice.
 */

export type PushSetting = 'backups' | 'all' | 'none';

/** A local record as the push planner sees it. */
export interface PushCandidate {
  id: string;
  kind: 'backup' | 'manual' | 'pre-restore' | 'save';
  damaged: boolean;
}

export type PushSkipCode = 'not-pushed-kind' | 'damaged' | 'already-remote' | 'already-queued' | 'older-than-remote' | 'removed-from-remote';

export interface PushPlan {
  /** Ids to add to the queue, oldest first (as given). */
  enqueue: string[];
  skip: { id: string; code: PushSkipCode; text: string }[];
}

/** True when records of `kind` go up under `push`. */
export function isPushedKind(kind: PushCandidate['kind'], push: PushSetting): boolean {
  if (push === 'none') return false;
  return kind !== 'save' || push === 'all';
}

/**
 * Which of `candidates` (oldest first) to queue for push. `explicit` is true for `ckptd push ID...`:
 * a named record of a kind the setting does not push is queued all the same (the user asked).
 * Otherwise a record older than the newest one on the remote is not queued: it was pushed and then
 * removed there (by `remote.keep` or `delete --remote`), and pushing it again would only have it
 * removed again; nor one in `removed` (this store's `delete --remote` removed it), however new.
 * (Ids sort by creation time.)
 */
export function planPush(
  candidates: readonly PushCandidate[],
  remote: ReadonlySet<string>,
  queued: ReadonlySet<string>,
  push: PushSetting,
  explicit = false,
  removed: ReadonlySet<string> = new Set(),
): PushPlan {
  const plan: PushPlan = { enqueue: [], skip: [] };
  const newestRemote = [...remote].sort().pop() ?? null;
  for (const c of candidates) {
    if (remote.has(c.id)) plan.skip.push({ id: c.id, code: 'already-remote', text: 'already on the remote' });
    else if (!explicit && removed.has(c.id)) {
      plan.skip.push({ id: c.id, code: 'removed-from-remote', text: 'deleted from the remote by `ckptd delete --remote`, so not pushed again; name it to push it' });
    } else if (!explicit && newestRemote !== null && c.id < newestRemote) {
      plan.skip.push({ id: c.id, code: 'older-than-remote', text: 'older than the newest record on the remote: removed there (remote.keep or delete --remote), so not pushed again; name it to push it' });
    }
    else if (queued.has(c.id)) plan.skip.push({ id: c.id, code: 'already-queued', text: 'already queued for push' });
    else if (c.damaged) plan.skip.push({ id: c.id, code: 'damaged', text: 'failed verification: its bytes are not sent; run `ckptd verify` and take a new backup' });
    else if (!explicit && !isPushedKind(c.kind, push)) plan.skip.push({ id: c.id, code: 'not-pushed-kind', text: `remote.push is ${push}: ${c.kind} records are not pushed` });
    else plan.enqueue.push(c.id);
  }
  return plan;
}

/** The first wait after a failed push (5 s), doubled per attempt up to `MAX_RETRY_MS` (10 min). */
export const FIRST_RETRY_MS = 5_000;
export const MAX_RETRY_MS = 600_000;

/**
 * How long to wait before attempt `failures + 1` of a push that failed `failures` times (>= 1):
 * exponential backoff with "equal jitter" (half fixed, half `random` in [0, 1)), so many machines
 * that lost the network together do not retry in step. Never less than half the backoff.
 */
export function retryDelayMs(failures: number, random: number): number {
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(backoff / 2 + (backoff / 2) * Math.min(Math.max(random, 0), 1));
}
