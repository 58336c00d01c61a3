/**
 * The single-writer lock of a remote run: a lease in `runs/<run>/lock.json`
 * (`{pid, host, since, command, token, expires}`), refreshed every `REFRESH_MS` by its holder and
 * stale once `expires` (`LEASE_MS` after the last refresh) has passed.
 *
 * BEST EFFORT: S3 offers no compare-and-swap here (the test server has no conditional writes), so
 * two processes that write the lease at the same instant can both read back their own for a moment.
 * `acquireLease` writes, then reads back and gives up when another token is there; the holder
 * checks its token at every refresh and gives the lock up (firing `signal`) when it finds another.
 * The window is one round trip: enough against a second ckptd started by mistake, not against a
 * deliberate race.
 */
import { randomUUID } from 'node:crypto';
import { StoreLockedError } from '../errors.js';
import { LockKeeper, registerLockSignal } from '../lock-signal.js';
import type { LockHolderInfo, StoreLock } from '../lock.js';
import type { RemoteRun } from './remote-records.js';
import { lockKey } from './s3-target.js';

/** A lease not refreshed for this long is stale. */
export const LEASE_MS = 60_000;
/** How often the holder refreshes it. */
const REFRESH_MS = 15_000;

/** `lock.json`. */
interface Lease extends LockHolderInfo {
  token: string;
  /** ISO 8601 UTC: the lease is stale from then on. */
  expires: string;
}

/** The lease as stored, or null when there is none (or it is not one). */
async function readLease(r: RemoteRun, signal?: AbortSignal): Promise<Lease | null> {
  const v = (await r.objects.getJson(lockKey(r.objects.target, r.run), signal)) as Partial<Lease> | undefined;
  if (typeof v !== 'object' || v === null) return null;
  if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.since !== 'string' || typeof v.command !== 'string') return null;
  if (typeof v.token !== 'string' || typeof v.expires !== 'string') return null;
  return { pid: v.pid, host: v.host, since: v.since, command: v.command, token: v.token, expires: v.expires };
}

function isLive(lease: Lease, now: number): boolean {
  return Date.parse(lease.expires) > now;
}

function lockedError(r: RemoteRun, h: Lease): StoreLockedError {
  return new StoreLockedError(
    r.location,
    `store ${r.location} is in use by ckptd ${h.command} pid ${h.pid} on host ${h.host} since ${h.since} (its lease runs until ${h.expires}); ` +
      'wait for it to finish, or stop it',
  );
}

/** `Store.lockHolder`: the lease's holder, `alive` while the lease has not expired; null when there is none. */
export async function leaseHolder(r: RemoteRun): Promise<(LockHolderInfo & { alive: boolean }) | null> {
  const lease = await readLease(r);
  if (lease === null) return null;
  return { pid: lease.pid, host: lease.host, since: lease.since, command: lease.command, alive: isLive(lease, Date.now()) };
}

/**
 * `Store.lock`: takes the run's lease for `info` (see the module comment for how far that holds).
 * Throws `StoreLockedError` naming the holder when a live lease of another token is there, or when
 * another writer's lease is found on reading ours back. The lease is refreshed on an unref'd timer;
 * when a refresh finds it taken or cannot write it before it expires, the lock is lost: `signal`
 * fires and `onCompromised` is called once.
 */
export async function acquireLease(r: RemoteRun, info: LockHolderInfo, onCompromised: (err: Error) => void = () => undefined): Promise<StoreLock> {
  const key = lockKey(r.objects.target, r.run);
  const token = randomUUID();
  const found = await readLease(r);
  if (found !== null && found.token !== token && isLive(found, Date.now())) throw lockedError(r, found);
  const write = (): Promise<void> => r.objects.putJson(key, { ...info, token, expires: new Date(Date.now() + LEASE_MS).toISOString() } satisfies Lease);
  await write();
  const back = await readLease(r);
  if (back === null || back.token !== token) {
    if (back !== null) throw lockedError(r, back);
    throw new StoreLockedError(r.location, `store ${r.location}: the lease written to ${key} could not be read back; check that this machine may read and write there`);
  }
  return holdLease(r, token, write, onCompromised);
}

function holdLease(r: RemoteRun, token: string, write: () => Promise<void>, onCompromised: (err: Error) => void): StoreLock {
  const keeper = new LockKeeper(r.location, onCompromised, () => clearInterval(timer));
  let lastWritten = Date.now();
  const refresh = async (): Promise<void> => {
    try {
      const now = await readLease(r);
      if (keeper.released || keeper.signal.aborted) return;
      if (now === null || now.token !== token) {
        keeper.lose(now === null ? 'its lease was removed by someone else' : `its lease was taken by ckptd ${now.command} pid ${now.pid} on host ${now.host}`);
        return;
      }
      await write();
      lastWritten = Date.now();
    } catch (err) {
      // A failed refresh is retried at the next tick, unless the lease may have expired meanwhile.
      if (!keeper.released && Date.now() - lastWritten >= LEASE_MS - REFRESH_MS) keeper.lose(`cannot refresh its lease: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  // The remote writers fall back to this signal (`signalOfHeldLock(location)`) when given none.
  const verify = (): void => {
    if (keeper.signal.aborted) throw keeper.signal.reason;
  };
  registerLockSignal(r.location, keeper.signal, verify);
  return keeper.handle(verify, async () => {
    // After a takeover the lease is the new holder's: theirs to remove.
    if ((await readLease(r))?.token === token) await r.objects.deleteKey(lockKey(r.objects.target, r.run));
  });
}
