/**
 * Pushes and garbage collections of one remote target, in this process. Blobs are shared by every
 * run under a target's prefix, and a push writes its manifest only after its blobs: until then, a
 * blob it uploaded or found already stored is named by no manifest, and a collection would take it
 * once it is past the grace (a push of hours, or a stored blob left unreferenced a day ago). So:
 *
 * - pushes of different runs go on beside one another (`duringPush`);
 * - a collection runs only while no push to the target is under way, and a push waits for a
 *   collection under way (`collectUnlessPushing`). One that finds a push under way is left for the
 *   next one (`collectionOwed`: the next remote retention collects even with nothing to delete):
 *   it only frees space, and waiting for a push of hours would hold up that run's own next pushes.
 *
 * Another process (a second machine, or a `ckptd` command run without a daemon) is not seen here:
 * there, the in-use marks of `store/remote/remote-gc.ts` keep a push's reused blobs from its collections.
 */
import type { RemoteStore } from '../store/remote/remote-store.js';

interface Turns {
  pushes: number;
  /** Settles when the collection under way ends; null when none is. */
  collecting: Promise<void> | null;
  /** A collection was left for later (a push was under way) and none has run since. */
  owed: boolean;
}

const byTarget = new Map<string, Turns>();

/** What shares blobs: the endpoint, bucket and prefix. */
function keyOf(remote: Pick<RemoteStore, 'objects'>): string {
  const t = remote.objects.target;
  return `${t.endpoint?.toLowerCase() ?? 'aws'} ${t.bucket}/${t.prefix}`;
}

function turnsOf(key: string): Turns {
  let t = byTarget.get(key);
  if (t === undefined) byTarget.set(key, (t = { pushes: 0, collecting: null, owed: false }));
  return t;
}

function forget(key: string, t: Turns): void {
  if (t.pushes === 0 && t.collecting === null && !t.owed && byTarget.get(key) === t) byTarget.delete(key);
}

/** The turns of `key` once no collection of it is under way (the entry may be a new one by then). */
async function afterCollection(key: string): Promise<Turns> {
  let t = turnsOf(key);
  while (t.collecting !== null) {
    await t.collecting;
    t = turnsOf(key);
  }
  return t;
}

/** Runs `fn`, a push to `remote`, once no collection of its target is under way; none starts until it ends. */
export async function duringPush<T>(remote: Pick<RemoteStore, 'objects'>, fn: () => Promise<T>): Promise<T> {
  const key = keyOf(remote);
  const t = await afterCollection(key);
  t.pushes++;
  try {
    return await fn();
  } finally {
    t.pushes--;
    forget(key, t);
  }
}

/** True when a collection of `remote`'s target was left for later and none has run since. */
export function collectionOwed(remote: Pick<RemoteStore, 'objects'>): boolean {
  return byTarget.get(keyOf(remote))?.owed === true;
}

/**
 * Runs `fn`, a garbage collection of `remote`'s target, unless a push to that target is under way
 * (then resolves to null at once); after any collection already under way. No push starts until it ends.
 */
export async function collectUnlessPushing<T>(remote: Pick<RemoteStore, 'objects'>, fn: () => Promise<T>): Promise<T | null> {
  const key = keyOf(remote);
  const t = await afterCollection(key);
  if (t.pushes > 0) {
    t.owed = true;
    return null;
  }
  let ended!: () => void;
  t.collecting = new Promise<void>((r) => (ended = r));
  try {
    const done = await fn();
    t.owed = false;
    return done;
  } finally {
    t.collecting = null;
    ended();
    forget(key, t);
  }
}
