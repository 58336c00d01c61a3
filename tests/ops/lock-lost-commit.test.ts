/**
 * Issue 11 item 13: the lock's signal reaches the daemon's capture (captureSnapshot's `signal`)
 * and restore's commit: once the lock is lost nothing is committed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { captureSnapshot } from '../../src/ops/run-actions.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { acquireStoreLock, LockLostError } from '../../src/store/lock.js';
import { listSnapshots } from '../../src/store/read-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { age, put, runAndStore, scanAll, snap } from '../store/fixtures.js';

const info = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' };

async function setup() {
  const { base, run, store } = await runAndStore();
  fs.mkdirSync(store);
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${run}\n    store: ${store}\n    progress: none\n    retention: {min_free: 0}\n`);
  return { run, store, runConfig: loadConfigFile(cfg).runs[0]! };
}

describe('commit steps after the store lock is lost', () => {
  it('captureSnapshot with the lock signal refuses and stores nothing', async () => {
    const { run, store, runConfig } = await setup();
    put(run, 'model.bin', 'weights');
    // A lock of the same store held elsewhere in this process would cover the write; use a signal alone.
    const controller = new AbortController();
    controller.abort(new LockLostError(store, 'test'));
    await expect(
      captureSnapshot(runConfig, await scanAll(run, store), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now(), signal: controller.signal }, silentLogger),
    ).rejects.toBeInstanceOf(LockLostError);
    expect(await listSnapshots(store)).toEqual([]);
  });

  it('restore stops before replacing the run files when the lock is lost while staging', async () => {
    const { run, store, runConfig } = await setup();
    const file = put(run, 'model.bin', 'version A');
    age(file);
    const snapshot = await snap(run, store);
    fs.writeFileSync(file, 'version B, newer');
    age(file, 30);
    const lock = await acquireStoreLock(store, info);
    try {
      const onProgress = () => fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true, force: true });
      await expect(
        restoreSnapshot({ run: runConfig, snapshot, to: null, force: true, now: Date.now(), logger: silentLogger, onProgress }),
      ).rejects.toBeInstanceOf(LockLostError);
      expect(fs.readFileSync(file, 'utf8')).toBe('version B, newer');
      expect(fs.readdirSync(run)).toEqual(['model.bin']);
    } finally {
      await lock.release();
    }
  });
});
