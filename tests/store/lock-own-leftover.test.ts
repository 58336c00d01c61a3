/**
 * A lock folder naming this very process that this process does not hold (the store was moved with
 * `mv` while held, so the lock travelled with it and its release could not find it) is a dead
 * holder's lock: taken over, not "in use by" ourselves until a restart. A lock this process holds,
 * or is acquiring right now, stays held: two acquires in one process still get exactly one lock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireStoreLock, readLockHolder, StoreLockedError, type StoreLock } from '../../src/store/lock.js';
import { tempDir } from './fixtures.js';

const info = (command: string) => ({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command });

describe('a lock of this process that it does not hold', () => {
  it('is taken over once the store was moved while held', async () => {
    const parent = await tempDir();
    const store = path.join(parent, 'store');
    const moved = path.join(parent, 'moved');
    fs.mkdirSync(store);
    const first = await acquireStoreLock(store, info('daemon'));
    fs.renameSync(store, moved);
    await first.release();
    expect(await readLockHolder(moved)).toMatchObject({ pid: process.pid, alive: false });

    const second = await acquireStoreLock(moved, info('daemon'));
    expect(() => second.assertHeld()).not.toThrow();
    expect(await readLockHolder(moved)).toMatchObject({ pid: process.pid, alive: true });
    await expect(acquireStoreLock(moved, info('snapshot'))).rejects.toBeInstanceOf(StoreLockedError);
    await second.release();
  });

  it('of two acquires of a free store in this process at once, exactly one wins (30 rounds)', async () => {
    const store = await tempDir();
    for (let round = 0; round < 30; round++) {
      const results = await Promise.allSettled([acquireStoreLock(store, info('daemon')), acquireStoreLock(store, info('snapshot'))]);
      const won = results.filter((r): r is PromiseFulfilledResult<StoreLock> => r.status === 'fulfilled').map((r) => r.value);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
      expect(won.length, `round ${round}: ${lost.map((e) => e.message).join('; ')}`).toBe(1);
      expect(lost[0]).toBeInstanceOf(StoreLockedError);
      await won[0]!.release();
    }
  });
});
