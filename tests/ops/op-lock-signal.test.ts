/**
 * A store operation the daemon started (a delete, a prune, a label edit) under a run's lock writes nothing once that lock is gone,
 * even when the process holds another lock on the same store by then (the run renamed in the
 * config: the old run's lock released after its stop grace, the new one's taken).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import { executeOp } from '../../src/ops/execute.js';
import { acquireStoreLock, type StoreLock } from '../../src/store/lock.js';
import { LockLostError } from '../../src/store/lock-signal.js';
import { listSnapshotHeaders } from '../../src/store/read-store.js';
import type { Logger } from '../../src/util/logger.js';
import { age, put, runAndStore, snap } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const locks: StoreLock[] = [];
afterEach(async () => {
  for (const l of locks.splice(0)) await l.release().catch(() => undefined);
});

const holder = (command: string) => ({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command });

describe('an operation under a lock that is gone', () => {
  it.each([
    ['delete', (id: string) => ({ kind: 'delete' as const, ids: [id], force: true, remote: false })],
    ['prune', () => ({ kind: 'prune' as const })],
    ['a label edit', (id: string) => ({ kind: 'label' as const, id, name: 'late', pinned: true })],
  ])('%s writes nothing, though this process holds the store under another lock', async (_what, opOf) => {
    const { run, store } = await runAndStore();
    age(put(run, 'model.bin', 'one'));
    const first = await snap(run, store, { now: Date.now() - 2000 });
    age(put(run, 'model.bin', 'two'));
    await snap(run, store);
    const c = zeroConfig(run, store).runs[0]!;
    const cfg = { ...c, backup: { ...c.backup, keep: 1 } };
    const before = (await listSnapshotHeaders(store)).map((h) => [h.id, h.name, h.pinned]);

    const old = await acquireStoreLock(store, holder('daemon'));
    await old.release();
    locks.push(await acquireStoreLock(store, holder('daemon')));
    await expect(executeOp(cfg, opOf(first.id), { logger: quiet, now: Date.now(), signal: old.signal })).rejects.toBeInstanceOf(LockLostError);
    expect((await listSnapshotHeaders(store)).map((h) => [h.id, h.name, h.pinned])).toEqual(before);
    expect(fs.existsSync(path.join(store, 'snapshots', first.id))).toBe(true);
  });
});
