/**
 * A push queue (`<store>/push-queue.json`) that exists but cannot be read (a disk error, an edit by
 * hand) is not an empty queue: retention would delete the backups still waiting for the remote,
 * and the next backup queued would replace the file, and every entry in it, with a queue of one.
 * Retention keeps every backup then and says why; nothing writes over the file; `status` says so.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { remoteStatus } from '../../src/client/remote-status.js';
import { deleteOnFinish } from '../../src/ops/delete-on-finish.js';
import { enqueueForPush } from '../../src/ops/push.js';
import { applyRetention, captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { pushQueueFile } from '../../src/store/layout.js';
import { storeOf } from '../../src/store/local-store.js';
import { PushQueueUnreadableError, readPushQueue } from '../../src/store/push-queue-file.js';
import type { Logger } from '../../src/util/logger.js';

const said: string[] = [];
const logger: Logger = { error: (m) => void said.push(m), warn: (m) => void said.push(m), info: (m) => void said.push(m), debug() {}, child: () => logger };
const DAMAGED = '{"items": [{"id": "20261202-0800';

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
  said.length = 0;
});

/** A run with rolling `keep: 1`, three backups taken of three states, and its push queue damaged. */
async function threeBackupsDamagedQueue(): Promise<{ run: RunConfig; ids: string[] }> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-queue-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  fs.mkdirSync(runDir);
  const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
  const run: RunConfig = { ...c, settleMs: 20, backup: { ...c.backup, keep: 1 }, retention: { ...c.retention, minFreeBytes: 0, minAgeMs: 0 } };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const model = path.join(runDir, 'model.bin');
    fs.writeFileSync(model, randomBytes(4096));
    const t = new Date(Date.now() - 60_000);
    fs.utimesSync(model, t, t);
    ids.push((await captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() + i }, logger)).id);
  }
  fs.writeFileSync(pushQueueFile(run.store), DAMAGED);
  return { run, ids };
}

const idsIn = async (run: RunConfig): Promise<string[]> => (await storeOf(run.store).listSnapshotHeaders()).map((s) => s.id).sort();

describe('a push queue that cannot be read', () => {
  it('keeps every backup from retention, and says why', async () => {
    const { run, ids } = await threeBackupsDamagedQueue();
    expect(await applyRetention(run, ids[2]!, Date.now(), logger)).toEqual([]);
    expect(await idsIn(run)).toEqual([...ids].sort());
    expect(said.join('\n')).toMatch(/every backup is kept as if waiting for push: the push queue .*push-queue\.json cannot be read/);
  });

  it('keeps every backup from delete_on_finish', async () => {
    const { run, ids } = await threeBackupsDamagedQueue();
    expect(await deleteOnFinish(run, logger, Date.now())).toEqual([]);
    expect(await idsIn(run)).toEqual([...ids].sort());
  });

  it('is never written over by a backup queued for push, and status names it', async () => {
    const { run, ids } = await threeBackupsDamagedQueue();
    await expect(enqueueForPush(run.store, [ids[2]!], Date.now())).rejects.toBeInstanceOf(PushQueueUnreadableError);
    expect(fs.readFileSync(pushQueueFile(run.store), 'utf8')).toBe(DAMAGED);
    const withRemote = { ...run, remote: { url: 's3://bucket/runs', push: 'backups' } } as unknown as RunConfig;
    expect((await remoteStatus(withRemote, []))!.error).toMatchObject({ id: 'push-queue.json', message: expect.stringContaining('cannot be read') });
  });

  it('is an empty queue when there is none', async () => {
    const { run } = await threeBackupsDamagedQueue();
    fs.rmSync(pushQueueFile(run.store));
    expect(await readPushQueue(run.store)).toEqual({ items: [], last_pushed: null });
  });
});
