/**
 * Issue 11 item 13: a one-shot command (`snapshot`, `backup-now`, `restore`, ...) that loses the
 * store lock while it works fails (non-zero exit) instead of reporting success, and writes nothing
 * after the loss.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { withStoreLock } from '../../src/client/one-shot.js';
import { LockLostError } from '../../src/store/lock.js';
import { listSnapshots } from '../../src/store/read-store.js';
import { put, scanAll, snap } from '../store/fixtures.js';

const made: string[] = [];
afterEach(async () => {
  for (const d of made.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function runOf(): Promise<{ run: RunConfig; dir: string; store: string }> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckptd-one-shot-'));
  made.push(base);
  const dir = path.join(base, 'run');
  const store = path.join(base, 'store');
  fs.mkdirSync(dir);
  // withStoreLock reads only these fields.
  return { run: { store, path: dir, save: { to: path.join(store, 'saves') } } as unknown as RunConfig, dir, store };
}

describe('withStoreLock when the lock is lost', () => {
  it('fails with LockLostError (exit code 1) even when the work wrote nothing after the loss', async () => {
    const { run, store } = await runOf();
    const err = await withStoreLock(run, 'snapshot', async () => {
      fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
      return 'done';
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect((err as LockLostError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/^lost the store lock: /);
  });

  it('a snapshot written after the loss is refused and leaves nothing', async () => {
    const { run, dir, store } = await runOf();
    put(dir, 'model.bin', 'weights');
    await expect(
      withStoreLock(run, 'snapshot', async (signal) => {
        fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
        return snap(dir, store, { entries: await scanAll(dir, store), signal });
      }),
    ).rejects.toBeInstanceOf(LockLostError);
    expect(await listSnapshots(store)).toEqual([]);
  });
});
