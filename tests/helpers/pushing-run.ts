/**
 * A local run pushing to a test world's remote, for the push and collection tests: its config, a
 * backup of exactly some files queued for push, and its remote store.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RemoteConfig, RemoteKeep, RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { enqueueForPush } from '../../src/ops/push.js';
import { openRemoteStore, type RemoteStore } from '../../src/store/remote/remote-store.js';
import type { S3Objects } from '../../src/store/remote/s3-objects.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import { age, put, runAndStore, snap } from '../store/fixtures.js';
import type { RemoteWorld } from './remote-world.js';

/** A local run and store named `name`, pushing backups to the world's bucket under `ckptd`, with `keep` as remote.keep. */
export async function pushingRun(w: RemoteWorld, name: string, keep: RemoteKeep | null = null): Promise<RunConfig> {
  const { run, store } = await runAndStore();
  const remote: RemoteConfig = {
    url: `s3://${w.bucket}/ckptd`,
    bucket: w.bucket,
    prefix: 'ckptd',
    endpoint: w.proxy.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    push: 'backups',
    keep,
    bandwidthBytesPerSec: null,
  };
  return { ...zeroConfig(run, store).runs[0]!, name, remote };
}

/** A backup of `run` holding exactly `files` (aged, so settled), queued for push. */
export async function queuedBackup(run: RunConfig, files: Record<string, string>): Promise<SnapshotMeta> {
  for (const f of fs.readdirSync(run.path)) fs.rmSync(path.join(run.path, f), { recursive: true });
  for (const [rel, content] of Object.entries(files)) age(put(run.path, rel, content));
  const s = await snap(run.path, run.store);
  await enqueueForPush(run.store, [s.id], Date.now());
  return s;
}

/** The remote store of `run` in the world, through `objects` (default: a fresh connection through the proxy). */
export function remoteOf(w: RemoteWorld, run: RunConfig, objects: S3Objects = w.open()): RemoteStore {
  return openRemoteStore({ objects, run: run.name, scratchDir: path.join(w.tmp, `scratch-${run.name}`) });
}
