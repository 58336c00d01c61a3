/**
 * Write commands run without a daemon (`snapshot`, `backup-now`) take the store's lock themselves,
 * so they never race a daemon that starts meanwhile; with a daemon running they ask it instead.
 */
import os from 'node:os';
import type { RunConfig } from '../config/types.js';
import { storeOf } from '../store/local-store.js';
import { SafetyError } from '../util/errors.js';

/** True when a live daemon holds the run's store. */
export async function daemonHolds(run: RunConfig): Promise<boolean> {
  const holder = await storeOf(run.store).lockHolder().catch(() => null);
  return holder !== null && holder.alive && holder.command === 'daemon';
}

/**
 * Runs `work` while holding the store's lock; refuses (exit 3) when someone else holds it. `work`
 * gets the lock's signal: every store write checks it (also without it being passed: the writers
 * find the lock this process holds), so nothing is committed once the lock is lost. A lost lock
 * fails the command (`LockLostError`, exit 1), even when `work` itself finished.
 */
export async function withStoreLock<T>(run: RunConfig, command: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const store = storeOf(run.store);
  await store.ensure();
  let lock;
  try {
    lock = await store.lock({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command });
  } catch (err) {
    throw new SafetyError((err as Error).message);
  }
  try {
    // Holding the lock, nothing else writes: finish cleaning what an interrupted command left.
    await store.sweep([run.save.to]);
    const result = await work(lock.signal);
    lock.assertHeld();
    return result;
  } finally {
    await lock.release().catch(() => undefined);
  }
}
