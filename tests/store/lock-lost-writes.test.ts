/**
 * Issue 11 item 13: once the store lock is lost, no commit step happens: writeSnapshot, writeSave,
 * the deletions and label edits throw "lost the store lock: ..." and leave the store as it was.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { deleteSave, deleteSnapshot } from '../../src/store/delete-snapshot.js';
import { writeLabels } from '../../src/store/labels.js';
import { acquireStoreLock, LockLostError } from '../../src/store/lock.js';
import { listSaves, listSnapshots } from '../../src/store/read-store.js';
import { writeSave } from '../../src/store/write-save.js';
import { put, runAndStore, scanAll, snap } from './fixtures.js';

const info = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' };

async function lockThenLose(store: string) {
  fs.mkdirSync(store, { recursive: true });
  const lock = await acquireStoreLock(store, info);
  // Someone removes the lock folder: this process no longer holds the store.
  fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
  return lock;
}

function leftInStaging(store: string): string[] {
  return fs.existsSync(path.join(store, '.staging')) ? fs.readdirSync(path.join(store, '.staging')) : [];
}

describe('writes after the store lock is lost', () => {
  it('writeSnapshot throws and leaves no snapshot (signal given, or found from the held lock)', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    const lock = await lockThenLose(store);
    try {
      await expect(snap(run, store, { signal: lock.signal })).rejects.toThrow(/^lost the store lock: .*daemon\.lock was removed by someone else/);
      await expect(snap(run, store)).rejects.toBeInstanceOf(LockLostError);
      expect(await listSnapshots(store)).toEqual([]);
      expect(fs.existsSync(path.join(store, 'snapshots')) ? fs.readdirSync(path.join(store, 'snapshots')) : []).toEqual([]);
      expect(leftInStaging(store)).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('writeSnapshot checks again right before the rename: a lock lost during the capture leaves no snapshot', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    fs.mkdirSync(store, { recursive: true });
    const lock = await acquireStoreLock(store, info);
    const lockDir = path.join(store, 'daemon.lock');
    try {
      const onProgress = () => fs.rmSync(lockDir, { recursive: true, force: true });
      await expect(snap(run, store, { signal: lock.signal, onProgress })).rejects.toBeInstanceOf(LockLostError);
      expect(lock.signal.aborted).toBe(true);
      expect(fs.readdirSync(path.join(store, 'snapshots'))).toEqual([]);
      expect(leftInStaging(store)).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('deleteSnapshot and deleteSave throw and delete nothing', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    const meta = await snap(run, store);
    const save = await writeSave({
      store, saveTo: path.join(store, 'saves'), runName: 'r', prefix: '', files: ['*.bin'], from: meta, runDir: run,
      entries: await scanAll(run, store), progress: NO_PROGRESS, trigger: 'test', now: Date.now(),
    });
    const lock = await lockThenLose(store);
    try {
      await expect(deleteSnapshot(store, meta.id, undefined, { signal: lock.signal })).rejects.toBeInstanceOf(LockLostError);
      await expect(deleteSnapshot(store, meta.id)).rejects.toBeInstanceOf(LockLostError);
      await expect(deleteSave(store, save.id, { saveTo: null })).rejects.toBeInstanceOf(LockLostError);
      expect((await listSnapshots(store)).map((s) => s.id)).toEqual([meta.id]);
      expect((await listSaves(store)).map((s) => s.id)).toEqual([save.id]);
      expect(fs.existsSync(save.path)).toBe(true);
    } finally {
      await lock.release();
    }
  });

  it('writeSave throws and leaves no export and no record', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    const lock = await lockThenLose(store);
    try {
      const saveTo = path.join(store, 'saves');
      await expect(
        writeSave({
          store, saveTo, runName: 'r', prefix: '', files: ['*.bin'], from: null, runDir: run,
          entries: await scanAll(run, store), progress: NO_PROGRESS, trigger: 'test', now: Date.now(), signal: lock.signal,
        }),
      ).rejects.toBeInstanceOf(LockLostError);
      expect(fs.existsSync(saveTo) ? fs.readdirSync(saveTo) : []).toEqual([]);
      expect(await listSaves(store)).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('writeLabels throws and changes no label (signal given, or found from the held lock)', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.bin', 'weights');
    const meta = await snap(run, store);
    const file = path.join(store, 'snapshots', meta.id, 'snapshot.json');
    const before = fs.readFileSync(file, 'utf8');
    const lock = await lockThenLose(store);
    try {
      await expect(writeLabels(store, meta.id, 'manual', { name: 'best' }, lock.signal)).rejects.toBeInstanceOf(LockLostError);
      await expect(writeLabels(store, meta.id, 'manual', { pinned: true })).rejects.toBeInstanceOf(LockLostError);
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
      expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['files', 'snapshot.json']);
    } finally {
      await lock.release();
    }
  });
});
