/**
 * Issue 11 item 13: a dead holder's lock is taken over atomically (exactly one of two contenders
 * wins), liveness is judged by pid + boot id + process start time (a reused pid and a zombie are
 * dead), and release() after a takeover leaves the new holder's lock alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireStoreLock, readLockHolder, StoreLockedError, type StoreLock } from '../../src/store/lock.js';
import { readBootId, readProcStat } from '../../src/util/proc-stat.js';
import { tempDir } from './fixtures.js';
import { requireTool } from '../helpers/tools.js';

const info = (command: string) => ({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command });

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Leaves `store` locked by the process `pid` (recorded with `startTicks`), as a holder that stopped would. */
function leaveLock(store: string, pid: number, startTicks: string | null): void {
  const rec = { pid, host: os.hostname(), since: '2026-11-22T15:38:02.000Z', command: 'daemon', boot_id: readBootId(), start_ticks: startTicks, token: randomUUID() };
  fs.mkdirSync(path.join(store, 'daemon.lock'));
  fs.writeFileSync(path.join(store, 'daemon.lock', 'owner.json'), JSON.stringify(rec));
  fs.writeFileSync(path.join(store, 'daemon.json'), JSON.stringify(rec));
}

/** The pid of a process that surely existed and is gone now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

/** A process that keeps running until the test ends. */
function liveChild(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return child.pid!;
}

describe('store lock takeover', () => {
  it('of two contenders taking over a dead lock, exactly one wins (50 rounds)', async () => {
    const store = await tempDir();
    const dead = deadPid();
    for (let round = 0; round < 50; round++) {
      leaveLock(store, dead, null);
      const results = await Promise.allSettled([acquireStoreLock(store, info('daemon')), acquireStoreLock(store, info('snapshot'))]);
      const won = results.filter((r): r is PromiseFulfilledResult<StoreLock> => r.status === 'fulfilled').map((r) => r.value);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
      expect(won.length, `round ${round}: ${lost.map((e) => e.message).join('; ')}`).toBe(1);
      expect(lost[0]).toBeInstanceOf(StoreLockedError);
      expect(() => won[0]!.assertHeld()).not.toThrow();
      expect(won[0]!.signal.aborted).toBe(false);
      await won[0]!.release();
      expect(fs.readdirSync(store)).toEqual([]);
    }
  });

  it('release() after a takeover leaves the new holder its lock; the old holder has lost it', async () => {
    const store = await tempDir();
    const lost: Error[] = [];
    const first = await acquireStoreLock(store, info('daemon'), (err) => lost.push(err));
    // Someone removes the lock folder; a second holder takes the store.
    fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
    const second = await acquireStoreLock(store, info('snapshot'));
    expect(() => first.assertHeld()).toThrow(/^lost the store lock: .*: it was taken over by ckptd snapshot pid \d+/);
    expect(first.signal.aborted).toBe(true);
    expect(first.compromised).toBe(true);
    expect(lost).toHaveLength(1);
    await first.release();
    expect(() => second.assertHeld()).not.toThrow();
    expect(await readLockHolder(store)).toMatchObject({ command: 'snapshot', alive: true });
    expect(fs.existsSync(path.join(store, 'daemon.json'))).toBe(true);
    await second.release();
    expect(await readLockHolder(store)).toBeNull();
  });

  it('a recorded pid now used by another process (another start time) counts as dead', async () => {
    const store = await tempDir();
    const pid = liveChild();
    const ticks = readProcStat(pid)!.startTicks;
    // Control: the same live process with its real start time holds the store.
    leaveLock(store, pid, ticks);
    await expect(acquireStoreLock(store, info('daemon'))).rejects.toThrow(`in use by ckptd daemon pid ${pid}`);
    fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
    leaveLock(store, pid, String(BigInt(ticks) + 1n));
    expect((await readLockHolder(store))?.alive).toBe(false);
    const lock = await acquireStoreLock(store, info('daemon'));
    expect((await readLockHolder(store))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('a zombie holder (exited, not reaped) counts as dead', async () => {
    const store = await tempDir();
    // The parent forks a child that exits at once and never reaps it.
    const script = 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)\n';
    requireTool('python3', 'python3');
    const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => parent.kill('SIGKILL'));
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    const ticks = readProcStat(zombie)?.startTicks ?? null;
    // Nothing announces the exit: look until the kernel shows the child as a zombie.
    while (readProcStat(zombie)?.state !== 'Z') await new Promise((r) => setTimeout(r, 10));
    expect(ticks).not.toBeNull();
    leaveLock(store, zombie, ticks);
    const lock = await acquireStoreLock(store, info('daemon'));
    expect((await readLockHolder(store))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('is never left half-made: a lock folder without its owner (a kill while taking it) does not block the next start', async () => {
    const store = await tempDir();
    // What a process killed between creating the lock folder and writing its owner would leave,
    // beside a staged lock of another one killed before its rename, and an older holder's record.
    fs.mkdirSync(path.join(store, 'daemon.lock'));
    fs.mkdirSync(path.join(store, 'daemon.lock.new-killed'));
    fs.writeFileSync(path.join(store, 'daemon.lock.new-killed', 'owner.json'), '{"pid": 1');
    fs.writeFileSync(path.join(store, 'daemon.json'), JSON.stringify({ pid: deadPid(), host: os.hostname(), since: '2026-11-22T15:38:02.000Z', command: 'daemon' }));
    const lock = await acquireStoreLock(store, info('daemon'));
    try {
      expect(await readLockHolder(store)).toMatchObject({ pid: process.pid, alive: true });
      await expect(acquireStoreLock(store, info('snapshot'))).rejects.toBeInstanceOf(StoreLockedError);
    } finally {
      await lock.release();
    }
    expect(fs.existsSync(path.join(store, 'daemon.lock'))).toBe(false);
  });
});
