/**
 * `remote.url` edited while a large file was half sent (a wrong bucket noticed, a move to another
 * prefix): the parts kept in the push queue belong to an upload on the old target and cannot be
 * resumed on the new one. The push must start that file over there, not fail on it for good and
 * hold up every backup queued behind it.
 */
import { describe, expect, it } from 'vitest';
import { pushQueued } from '../../src/ops/push.js';
import { readPushQueue } from '../../src/store/push-queue-file.js';
import { parseS3Target } from '../../src/store/remote/s3-target.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { PART, remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

describe('a push after remote.url changed mid-upload', () => {
  it('starts the half-sent file over on the new target and pushes every queued backup', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const big = await queuedBackup(a, { 'model.bin': 'm'.repeat(PART + 4096), 'state.json': '1' });
    const small = await queuedBackup(a, { 'model.bin': 'n', 'state.json': '2' });
    // The first push stops once a part is acknowledged (the daemon stopping, the network gone).
    const stop = new AbortController();
    await pushQueued(a, remoteOf(w, a), { logger: quiet, now: Date.now, ignoreBackoff: true, signal: stop.signal, onProgress: (done) => done > 0 && stop.abort(new Error('stopped')) });
    expect(Object.keys((await readPushQueue(a.store)).items[0]!.uploads)).toHaveLength(1);

    // The config now names another prefix of the bucket.
    const moved = { ...a, remote: { ...a.remote!, url: `s3://${w.bucket}/moved`, prefix: 'moved' } };
    const target = parseS3Target({ url: `s3://${w.bucket}/moved`, endpoint: w.proxy.endpoint, region: 'us-east-1', forcePathStyle: true });
    const there = remoteOf(w, moved, w.open({}, target));
    const r = await pushQueued(moved, there, { logger: quiet, now: Date.now, ignoreBackoff: true });
    expect(r.failed).toBeNull();
    expect(r.pushed.map((p) => p.id)).toEqual([big.id, small.id]);
    expect((await there.verifyExists(await there.resolve(big.id))).ok).toBe(true);
    expect((await readPushQueue(a.store)).items).toEqual([]);
  });
});
