import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireStoreLock, readLockHolder, StoreLockedError } from '../../src/store/lock.js';
import { tempDir } from './fixtures.js';

const info = (command: string) => ({ pid: process.pid, host: os.hostname(), since: '2026-11-22T15:38:02.000Z', command });

describe('store lock', () => {
  it('refuses a second holder and names the first', async () => {
    const store = await tempDir();
    const lock = await acquireStoreLock(store, info('daemon'));
    try {
      const err = await acquireStoreLock(store, info('snapshot')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreLockedError);
      expect((err as Error).message).toBe(
        `store ${store} is in use by ckptd daemon pid ${process.pid} on host ${os.hostname()} since 2026-11-22T15:38:02.000Z`,
      );
      expect((err as StoreLockedError).exitCode).toBe(3);
      expect(await readLockHolder(store)).toEqual({ ...info('daemon'), alive: true });
    } finally {
      await lock.release();
    }
    expect(fs.existsSync(path.join(store, 'daemon.json'))).toBe(false);
    expect(await readLockHolder(store)).toBeNull();
    const again = await acquireStoreLock(store, info('snapshot'));
    await again.release();
    await again.release();
  });

  it('takes over a lock left by a holder that died on this host', async () => {
    const store = await tempDir();
    // A pid that surely existed and is gone now.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const rec = { ...info('daemon'), pid: Number(dead), boot_id: null, start_ticks: null, token: '00000000-0000-4000-8000-000000000000' };
    fs.mkdirSync(path.join(store, 'daemon.lock'));
    fs.writeFileSync(path.join(store, 'daemon.lock', 'owner.json'), JSON.stringify(rec));
    fs.writeFileSync(path.join(store, 'daemon.json'), JSON.stringify(rec));
    expect((await readLockHolder(store))?.alive).toBe(false);
    const lock = await acquireStoreLock(store, info('daemon'));
    expect((await readLockHolder(store))?.pid).toBe(process.pid);
    await lock.release();
  });
});
