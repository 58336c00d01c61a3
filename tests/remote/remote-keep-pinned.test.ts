/**
 * `remote.keep` never deletes a snapshot the user pinned: `ckptd pin ID` after the snapshot was
 * pushed pins the local copy, and the remote retention that follows the next push must count that
 * pin (and write it to the remote manifest, so a new pod's retention sees it too). On a rented pod
 * the remote copy is the one that outlives the machine. Against a real S3 API server.
 */
import { describe, expect, it } from 'vitest';
import type { RemoteKeep } from '../../src/config/types.js';
import { updateLabels } from '../../src/ops/labels.js';
import { pushQueued } from '../../src/ops/push.js';
import { applyRemoteRetention } from '../../src/ops/remote-retention.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld } from '../helpers/remote-world.js';

const KEEP_ONE: RemoteKeep = { keepLast: 1, keepBest: null, keepHourly: 0, keepDaily: 0, keepWeekly: 0, maxSizeBytes: null, minAgeMs: 0 };
const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, child: () => quiet };
const world = remoteWorld();

describe('remote.keep and a snapshot pinned after it was pushed', () => {
  it('keeps the pinned snapshot on the remote, pinned there too', async () => {
    const w = world();
    const run = await pushingRun(w, 'a', KEEP_ONE);
    const remote = remoteOf(w, run);
    const ctx = { logger: quiet, now: Date.now };
    const good = await queuedBackup(run, { 'model.bin': 'the good epoch' });
    expect((await pushQueued(run, remote, ctx)).pushed).toHaveLength(1);

    // `ckptd pin` of the pushed backup, then training goes on and the next backup is pushed.
    await updateLabels(run.store, good.id, { pinned: true });
    await queuedBackup(run, { 'model.bin': 'a later epoch' });
    expect((await pushQueued(run, remote, ctx)).pushed).toHaveLength(1);
    expect((await applyRemoteRetention(run, remote, Date.now(), quiet)).deleted).toEqual([]);

    const there = await remoteOf(w, run).listSnapshots();
    expect(there.map((s) => [s.id, s.pinned])).toContainEqual([good.id, true]);
  });
});
