/**
 * The abort signal of a held store lock, and the check every commit step makes with it. A signal
 * handed out by `acquireStoreLock` is registered here with a verifier that looks at the lock on
 * disk, so a check notices a takeover or a removed lock at once instead of at the next refresh.
 */
import path from 'node:path';
import { CkptdError } from '../util/errors.js';
import type { StoreLock } from './lock.js';

/** Thrown at a commit step once this process no longer holds the store's lock. Exit code 1. */
export class LockLostError extends CkptdError {
  override readonly name = 'LockLostError';
  constructor(
    readonly store: string,
    reason: string,
  ) {
    super(`lost the store lock: ${store}: ${reason}; nothing more is written to this store`);
  }
}

const verifiers = new WeakMap<AbortSignal, () => void>();
const heldByStore = new Map<string, AbortSignal>();

/** Registers a lock's signal, its on-disk verifier, and the store it guards (see `signalOfHeldLock`). */
export function registerLockSignal(store: string, signal: AbortSignal, verify: () => void): void {
  verifiers.set(signal, verify);
  heldByStore.set(path.resolve(store), signal);
}

/** Forgets the store's lock signal (at release), if it is still `signal`. */
export function unregisterLockSignal(store: string, signal: AbortSignal): void {
  if (heldByStore.get(path.resolve(store)) === signal) heldByStore.delete(path.resolve(store));
}

/**
 * The signal of the lock this process holds on `store` ,
 * or undefined. Store writers fall back to it when the caller passed none, so every write path of a
 * lock holder checks the lock even where no signal was threaded through.
 */
export function signalOfHeldLock(store: string): AbortSignal | undefined {
  return heldByStore.get(path.resolve(store));
}

/**
 * Throws when `signal` has fired (its reason, a `LockLostError` for a lock's signal) or, for a
 * lock's signal, when the lock on disk is no longer ours (which also fires it). Call right before
 * each commit step: a rename into place, a record write, a delete. No signal: no check.
 */
export function assertLockHeld(signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  signal.throwIfAborted();
  verifiers.get(signal)?.();
}

/**
 * For the writers of a store's own bookkeeping files (`push-queue.json`, `state.json`), as their
 * `beforeRename`: throws `LockLostError` when this process held `store`'s lock and lost it, so it
 * never writes them beside the process holding the store now. No lock held here: no check.
 */
export function assertStoreLockHeld(store: string): void {
  assertLockHeld(signalOfHeldLock(store));
}

/**
 * The in-process half of a held lock, shared by the local lock and the remote lease: the signal
 * that fires once, when the lock is lost or released, and the `StoreLock` handed to the holder.
 * The lock itself (a folder, an object) and how it is kept fresh stay with its owner, which gives
 * `stop` (ends its refreshing) and, at release, `removeIfOurs`.
 */
export class LockKeeper {
  private readonly controller = new AbortController();
  private lost = false;
  private done = false;

  constructor(
    private readonly store: string,
    private readonly onCompromised: (err: Error) => void,
    private readonly stop: () => void,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once `release` was called. */
  get released(): boolean {
    return this.done;
  }

  /** The lock is gone (taken over, removed, not kept fresh): fires the signal and `onCompromised`, once. */
  lose(reason: string): void {
    if (this.signal.aborted) return;
    this.lost = true;
    this.stop();
    const err = new LockLostError(this.store, reason);
    this.controller.abort(err);
    this.onCompromised(err);
  }

  /** The holder's handle: `assertHeld` checks the lock; `release` stops, forgets and fires the signal, then runs `removeIfOurs`. */
  handle(assertHeld: () => void, removeIfOurs: () => Promise<void>): StoreLock {
    const keeper = this;
    return {
      get compromised() {
        return keeper.lost;
      },
      signal: this.signal,
      assertHeld,
      async release() {
        if (keeper.done) return;
        keeper.done = true;
        keeper.stop();
        unregisterLockSignal(keeper.store, keeper.signal);
        if (!keeper.signal.aborted) keeper.controller.abort(new LockLostError(keeper.store, 'the lock was released'));
        await removeIfOurs();
      },
    };
  }
}
