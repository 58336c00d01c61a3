/**
 * One writer per store: a lock (`<store>/daemon.lock`, kept fresh by proper-lockfile) plus
 * `<store>/daemon.json` naming the holder, so a refused second process can say who has the store.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import lockfile from 'proper-lockfile';
import { writeFileAtomic } from './durable.js';
import { StoreLockedError, withPath } from './errors.js';
import { holderFile, lockPath } from './layout.js';

/** Re-exported: thrown by `acquireStoreLock` when another process holds the store. */
export { StoreLockedError } from './errors.js';

/** Who holds (or wants) a store. */
export interface LockHolderInfo {
  pid: number;
  host: string;
  /** ISO 8601 UTC. */
  since: string;
  /** The ckptd command, e.g. `daemon`, `snapshot`, `restore`. */
  command: string;
}

/** A held store lock. */
export interface StoreLock {
  /** Removes `daemon.json` (when it still names this holder), then unlocks. Idempotent. */
  release(): Promise<void>;
  /** True once the lock was found taken over or could not be kept fresh (see `onCompromised`). */
  readonly compromised: boolean;
}

/** A lock not refreshed for this long is stale and may be taken by another process. */
const STALE_MS = 30_000;
const UPDATE_MS = 10_000;
/** A new holder writes daemon.json within milliseconds of locking; a dead holder's lock must be older. */
const TAKEOVER_MIN_AGE_MS = 2_000;

/**
 * Locks `store` for the holder `info` and writes `<store>/daemon.json`. Throws `StoreLockedError`
 * naming the current holder when the store is locked ("store /x is in use by ckptd daemon pid 123
 * on host h since ..."). A lock left by a holder that died on this host is taken over at once
 * instead of waiting for it to go stale. `onCompromised` is called (instead of proper-lockfile's
 * default, which throws and would crash the process) when the lock is lost; the holder must then
 * stop writing. The store folder must exist.
 */
export async function acquireStoreLock(store: string, info: LockHolderInfo, onCompromised: (err: Error) => void = () => undefined): Promise<StoreLock> {
  let compromised = false;
  const options: lockfile.LockOptions = {
    lockfilePath: lockPath(store),
    stale: STALE_MS,
    update: UPDATE_MS,
    realpath: false,
    retries: 0,
    onCompromised: (err) => {
      compromised = true;
      onCompromised(err);
    },
  };
  let unlock: () => Promise<void>;
  try {
    unlock = await lockfile.lock(store, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw withPath(err, 'cannot lock', store);
    if (!(await removeLockOfDeadHolder(store))) throw await lockedError(store);
    try {
      unlock = await lockfile.lock(store, options);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'ELOCKED') throw await lockedError(store);
      throw withPath(again, 'cannot lock', store);
    }
  }
  try {
    await writeFileAtomic(holderFile(store), `${JSON.stringify(info)}\n`);
  } catch (err) {
    await unlock().catch(() => undefined);
    throw err;
  }
  let released = false;
  return {
    get compromised() {
      return compromised;
    },
    async release() {
      if (released) return;
      released = true;
      const holder = await readHolderFile(store);
      // After a takeover the file names the new holder: it is theirs to remove.
      if (holder !== null && holder.pid === info.pid && holder.host === info.host && holder.since === info.since) {
        await fsp.rm(holderFile(store), { force: true });
      }
      await unlock().catch((err: unknown) => {
        if (!compromised) throw err;
      });
    },
  };
}

/**
 * Who holds `store`, from `daemon.json`, or null when no holder is recorded. `alive` is true when
 * the lock is held (fresh) and, if the holder runs on this host, its pid exists.
 */
export async function readLockHolder(store: string): Promise<(LockHolderInfo & { alive: boolean }) | null> {
  const holder = await readHolderFile(store);
  if (holder === null) return null;
  const locked = await lockfile.check(store, { lockfilePath: lockPath(store), stale: STALE_MS, realpath: false }).catch(() => false);
  const alive = locked && (holder.host !== os.hostname() || pidExists(holder.pid));
  return { ...holder, alive };
}

async function lockedError(store: string): Promise<StoreLockedError> {
  const h = await readHolderFile(store);
  if (h === null) return new StoreLockedError(store, `store ${store} is in use by another ckptd process (it has not said which yet); try again in a moment`);
  return new StoreLockedError(store, `store ${store} is in use by ckptd ${h.command} pid ${h.pid} on host ${h.host} since ${h.since}`);
}

/**
 * Removes the lock when `daemon.json` names a process of this host that no longer exists and the
 * lock has not been refreshed meanwhile. True when it did.
 */
async function removeLockOfDeadHolder(store: string): Promise<boolean> {
  const lock = lockPath(store);
  const holder = await readHolderFile(store);
  if (holder === null || holder.host !== os.hostname() || holder.pid === process.pid || pidExists(holder.pid)) return false;
  const before = await fsp.stat(lock).catch(() => null);
  if (before === null) return true;
  // A lock younger than this may belong to a new holder that has not written daemon.json yet.
  const age = Date.now() - before.mtimeMs;
  if (age < TAKEOVER_MIN_AGE_MS) await new Promise((r) => setTimeout(r, TAKEOVER_MIN_AGE_MS - age));
  const again = await readHolderFile(store);
  const after = await fsp.stat(lock).catch(() => null);
  if (after === null) return true;
  // A refreshed lock or a new daemon.json means someone else holds the store now.
  if (after.mtimeMs !== before.mtimeMs || again === null || again.pid !== holder.pid || again.since !== holder.since) return false;
  await fsp.rm(lock, { recursive: true, force: true });
  return true;
}

async function readHolderFile(store: string): Promise<LockHolderInfo | null> {
  try {
    const v = JSON.parse(await fsp.readFile(holderFile(store), 'utf8')) as Partial<LockHolderInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.since !== 'string' || typeof v.command !== 'string') return null;
    return { pid: v.pid, host: v.host, since: v.since, command: v.command };
  } catch {
    return null;
  }
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
