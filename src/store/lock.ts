/**
 * One writer per store. The lock is the folder `<store>/daemon.lock` (created whole by renaming a
 * staged folder onto that name, which of several processes only one can do) holding `owner.json`:
 * the holder's identity (pid, host, boot id, process start time, PID namespace), its command, and a token unique
 * to this acquisition. The holder touches the folder every `UPDATE_MS` and checks the token is
 * still its own; `<store>/daemon.json` repeats the holder for people and tools.
 *
 * Not proper-lockfile, which ckptd used before: it judges a holder dead only by the age of the
 * lock's mtime, takes a stale lock over by check-then-remove (two contenders can both win), and
 * its unlock removes whatever lock is there, a new holder's included. Each of those let two
 * writers into one store (issue 11, item 13).
 *
 * Over 300 lines on purpose: acquiring, judging, taking over and releasing are one protocol whose
 * steps must be read together to see that two writers can never both hold a store.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { readBootId, readPidNamespace, readProcStat } from '../util/proc-stat.js';
import { fsyncDir, removeTree, writeFileAtomic } from './durable.js';
import { StoreLockedError, withPath } from './errors.js';
import { holderFile, lockPath } from './layout.js';
import { isDeadOnThisHost, judgedByPid, type ProcessIdentity } from './lock-liveness.js';
import { LockKeeper, registerLockSignal } from './lock-signal.js';

/** Re-exported: thrown by `acquireStoreLock` when another process holds the store. */
export { StoreLockedError } from './errors.js';
/** Re-exported: thrown at a commit step once the lock is lost. */
export { LockLostError } from './lock-signal.js';

/** Who holds (or wants) a store. */
export interface LockHolderInfo {
  pid: number;
  host: string;
  /** ISO 8601 UTC. */
  since: string;
  /** The ckptd command, e.g. `daemon`, `snapshot`, `restore`. */
  command: string;
}

/** `owner.json` in the lock folder (and `daemon.json`). */
interface OwnerRecord extends LockHolderInfo, ProcessIdentity {
  /** Unique to one acquisition: tells this holder's lock from any later one. */
  token: string;
}

/** A held store lock. */
export interface StoreLock {
  /**
   * Removes the lock and `daemon.json` only while they are still this holder's (after a takeover
   * they are the new holder's and stay), then fires `signal`. Idempotent.
   */
  release(): Promise<void>;
  /** True once the lock was found taken over, removed, or could not be kept fresh. */
  readonly compromised: boolean;
  /**
   * Fires when the lock is lost (reason: a `LockLostError`) or released. Pass it to the store
   * writers: they check it (with `assertLockHeld`, which also looks at the lock on disk) right
   * before each commit step.
   */
  readonly signal: AbortSignal;
  /** Throws `LockLostError` unless the lock on disk is still this one (and fires `signal` then). */
  assertHeld(): void;
}

/** A lock of another host not refreshed for this long is stale and may be taken. */
const STALE_MS = 30_000;
const UPDATE_MS = 10_000;
const OWNER_FILE = 'owner.json';
const TOKEN_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Locks `store` for the holder `info` and writes `<store>/daemon.json`. Throws `StoreLockedError`
 * naming the current holder when the store is locked ("store /x is in use by ckptd daemon pid 123
 * on host h since ..."). A lock whose holder is dead is taken over at once: on this host and in
 * this PID namespace, dead means its pid is gone, or belongs to a process started at another time
 * or in another boot, or is a zombie; a lock of another host or PID namespace (a container), or
 * without an owner record, is dead once not refreshed for `STALE_MS`. Takeover is an election: of
 * several processes taking over the same dead lock, exactly one wins, the others get
 * `StoreLockedError`. `onCompromised` is called once when the lock is lost; `signal` fires then,
 * and every commit step checking it throws. The store folder must exist.
 */
export async function acquireStoreLock(store: string, info: LockHolderInfo, onCompromised: (err: Error) => void = () => undefined): Promise<StoreLock> {
  const lock = lockPath(store);
  const me: OwnerRecord = {
    ...info,
    boot_id: readBootId(),
    start_ticks: readProcStat(info.pid)?.startTicks ?? null,
    pid_ns: readPidNamespace(),
    token: randomUUID(),
  };
  const record = `${JSON.stringify(me)}\n`;
  let election: string | null = null;
  // Ours from before the lock folder can exist: a second acquire in this process judges it held.
  ownTokens.add(me.token);
  try {
    if (!(await tryCreateLock(lock, store, me.token, record))) {
      const found = await judge(lock);
      if (found.verdict === 'held') throw await lockedError(store);
      if (found.verdict === 'dead') {
        election = await winElection(lock, found.key);
        if (election === null) throw await lockedError(store);
        // Only the election's winner acts on this dead lock: check it is still the one judged.
        const again = await judge(lock);
        if (again.verdict === 'held' || (again.verdict === 'dead' && again.key !== found.key)) throw await lockedError(store);
        if (again.verdict === 'dead') await retireLock(lock);
      }
      if (!(await tryCreateLock(lock, store, me.token, record))) throw await lockedError(store);
    }
    try {
      await writeFileAtomic(holderFile(store), record);
    } catch (err) {
      if ((await readOwner(lock))?.token === me.token) await retireLock(lock).catch(() => undefined);
      throw err;
    }
  } catch (err) {
    ownTokens.delete(me.token);
    throw err;
  } finally {
    // Kept until the new owner record is in place, so a late contender sees the new holder.
    if (election !== null) await fsp.rmdir(election).catch(() => undefined);
  }
  return holdLock(store, lock, me, onCompromised);
}

function holdLock(store: string, lock: string, me: OwnerRecord, onCompromised: (err: Error) => void): StoreLock {
  const keeper = new LockKeeper(store, onCompromised, () => clearInterval(timer));
  const signal = keeper.signal;
  const verify = (): void => {
    if (signal.aborted) throw signal.reason;
    const now = readOwnerSync(lock);
    if (now?.token === me.token) return;
    keeper.lose(
      now === null
        ? `${lock} was removed by someone else`
        : `it was taken over by ckptd ${now.command} pid ${now.pid} on host ${now.host} since ${now.since}`,
    );
    throw signal.reason;
  };
  const refresh = async (): Promise<void> => {
    try {
      verify();
      const t = new Date();
      await fsp.utimes(lock, t, t);
    } catch (err) {
      if (!signal.aborted && !keeper.released) keeper.lose(`cannot keep ${lock} fresh: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => void refresh(), UPDATE_MS);
  timer.unref();
  // Stays registered (fired) after a loss until release: later writes to this store without a signal fail too.
  registerLockSignal(store, signal, verify);
  return keeper.handle(verify, async () => {
    // After a takeover both name the new holder: theirs to remove.
    if ((await readOwner(holderFile(store), true))?.token === me.token) await fsp.rm(holderFile(store), { force: true });
    try {
      if ((await readOwner(lock))?.token === me.token) await retireLock(lock);
    } finally {
      // Only once retired: until then another acquire in this process must not take it over.
      ownTokens.delete(me.token);
    }
  });
}

/**
 * Who holds `store`, from the lock's owner record (else `daemon.json`), or null when none is
 * recorded. `alive` is true when the lock is there and its holder is not dead (see `acquireStoreLock`).
 */
export async function readLockHolder(store: string): Promise<(LockHolderInfo & { alive: boolean }) | null> {
  const lock = lockPath(store);
  const inLock = await readOwner(lock);
  const owner = inLock ?? (await readHolderInfo(store));
  if (owner === null) return null;
  const alive = inLock !== null && (await judge(lock)).verdict === 'held';
  return { pid: owner.pid, host: owner.host, since: owner.since, command: owner.command, alive };
}

/**
 * The tokens of the locks this process holds or is acquiring now (added before the lock folder
 * exists, removed once a release retired it). Locks are taken on the main thread only: a worker
 * thread has the same pid and a set of its own.
 */
const ownTokens = new Set<string>();

/**
 * True for a lock naming this very process that it does not hold: its folder travelled with a
 * store moved (`mv`) while held, so the release could not find it. Without this, the process (a
 * daemon whose config was edited to the moved store) would refuse the store as in use by itself.
 */
function isOwnLeftover(owner: OwnerRecord): boolean {
  return isMainThread && owner.pid === process.pid && !ownTokens.has(owner.token);
}

type Judgement = { verdict: 'gone' } | { verdict: 'held' } | { verdict: 'dead'; key: string };

/** Whether the lock folder is there, held, or left by a dead holder (`key` names that lock). */
async function judge(lock: string): Promise<Judgement> {
  const st = await fsp.stat(lock).catch(() => null);
  if (st === null) return { verdict: 'gone' };
  const owner = await readOwner(lock);
  const stale = Date.now() - st.mtimeMs > STALE_MS;
  // Without an owner record the holder may be writing it right now: only staleness tells.
  if (owner === null) return stale ? { verdict: 'dead', key: `ino${st.ino}-${Math.floor(st.mtimeMs)}` } : { verdict: 'held' };
  // A holder of another host or PID namespace (a container) cannot be looked up by its pid here.
  const dead = judgedByPid(owner) ? isDeadOnThisHost(owner) || isOwnLeftover(owner) : stale;
  return dead ? { verdict: 'dead', key: owner.token } : { verdict: 'held' };
}

/**
 * Enters the election to take over the dead lock `key`: the one process whose mkdir of
 * `daemon.lock.takeover-<key>` succeeds. Null when another process is taking it over now. An
 * election left by a takeover that crashed midway (older than `STALE_MS`) is held again under the
 * next name.
 */
async function winElection(lock: string, key: string): Promise<string | null> {
  for (let round = 0; round < 5; round++) {
    const dir = `${lock}.takeover-${key}${round === 0 ? '' : `-${round}`}`;
    if (await tryMkdir(dir, path.dirname(lock))) return dir;
    const st = await fsp.stat(dir).catch(() => null);
    if (st !== null && Date.now() - st.mtimeMs < STALE_MS) return null;
  }
  return null;
}

/**
 * Creates the lock folder `lock` already holding its owner record, in one step: the record is
 * written (fsynced) in `<lock>.new-<token>`, which is then renamed to `lock`. False when another
 * lock is there (a folder that holds a record cannot be renamed over). A kill at any instant leaves
 * either no lock or a whole one; never a lock without its owner, which would look held until stale.
 * Only an empty `lock`, which no ckptd of this version leaves, is replaced by the rename.
 */
async function tryCreateLock(lock: string, store: string, token: string, record: string): Promise<boolean> {
  const staged = `${lock}.new-${token}`;
  await sweepStagedLocks(lock);
  try {
    await fsp.mkdir(staged);
    await writeFileAtomic(path.join(staged, OWNER_FILE), record);
    try {
      await fsp.rename(staged, lock);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') return false;
      throw err;
    }
    await fsyncDir(path.dirname(lock));
    return true;
  } catch (err) {
    throw withPath(err, 'cannot lock', store);
  } finally {
    // Gone after a successful rename; after a refusal or failure it is ours to remove.
    await removeTree(staged).catch(() => undefined);
  }
}

/**
 * Removes the lock folder `lock` by first renaming it to a unique name, in one step: removed in
 * place, it would stand empty for a moment between its owner record and the folder, and a new
 * lock renamed onto it then would be removed with it.
 */
async function retireLock(lock: string): Promise<void> {
  const gone = `${lock}.gone-${randomUUID()}`;
  try {
    await fsp.rename(lock, gone);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await removeTree(gone);
}

/** Removes `<lock>.new-*` and `<lock>.gone-*` folders a killed process left, once stale. */
async function sweepStagedLocks(lock: string): Promise<void> {
  const dir = path.dirname(lock);
  const prefixes = [`${path.basename(lock)}.new-`, `${path.basename(lock)}.gone-`];
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!prefixes.some((p) => name.startsWith(p))) continue;
    const st = await fsp.stat(path.join(dir, name)).catch(() => null);
    if (st !== null && Date.now() - st.mtimeMs > STALE_MS) await removeTree(path.join(dir, name)).catch(() => undefined);
  }
}

async function tryMkdir(dir: string, store: string): Promise<boolean> {
  try {
    await fsp.mkdir(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw withPath(err, 'cannot lock', store);
  }
}

async function lockedError(store: string): Promise<StoreLockedError> {
  const h = (await readOwner(lockPath(store))) ?? (await readHolderInfo(store));
  if (h === null) return new StoreLockedError(store, `store ${store} is in use by another ckptd process (it has not said which yet); try again in a moment`);
  return new StoreLockedError(store, `store ${store} is in use by ckptd ${h.command} pid ${h.pid} on host ${h.host} since ${h.since}`);
}

/** The owner record in the lock folder `dir` (or the file `dir` itself when `isFile`), or null. */
async function readOwner(dir: string, isFile = false): Promise<OwnerRecord | null> {
  try {
    return parseOwner(await fsp.readFile(isFile ? dir : path.join(dir, OWNER_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** `daemon.json` as people read it (also one written by an older ckptd, without a token), or null. */
async function readHolderInfo(store: string): Promise<LockHolderInfo | null> {
  try {
    const v = JSON.parse(await fsp.readFile(holderFile(store), 'utf8')) as Partial<LockHolderInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.since !== 'string' || typeof v.command !== 'string') return null;
    return { pid: v.pid, host: v.host, since: v.since, command: v.command };
  } catch {
    return null;
  }
}

function readOwnerSync(lock: string): OwnerRecord | null {
  try {
    return parseOwner(fs.readFileSync(path.join(lock, OWNER_FILE), 'utf8'));
  } catch {
    return null;
  }
}

function parseOwner(text: string): OwnerRecord | null {
  const v = JSON.parse(text) as Partial<OwnerRecord>;
  if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.since !== 'string' || typeof v.command !== 'string') return null;
  if (typeof v.token !== 'string' || !TOKEN_RE.test(v.token)) return null;
  const text_ = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  return { pid: v.pid, host: v.host, since: v.since, command: v.command, boot_id: text_(v.boot_id), start_ticks: text_(v.start_ticks), pid_ns: text_(v.pid_ns), token: v.token };
}
