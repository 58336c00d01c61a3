/**
 * A queued record that cannot be read for a while (its snapshot.json unreadable: an I/O error, a
 * file system remounted, a hand in the store) is not a record that is gone. Dropping it from the
 * push queue would leave that backup off the remote for good, and unprotected from retention.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pushQueued } from '../../src/ops/push.js';
import { snapshotMetaFile } from '../../src/store/layout.js';
import { readPushQueue } from '../../src/store/push-queue-file.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

describe('a push while a queued record cannot be read', () => {
  it('keeps it queued (a failed try, not a drop), pushes the others, and pushes it once it reads again', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const old = await queuedBackup(a, { 'model.bin': 'o'.repeat(2_000), 'state.json': '1' });
    const fresh = await queuedBackup(a, { 'model.bin': 'n'.repeat(2_000), 'state.json': '2' });
    // Its manifest cannot be read: a folder where the file was (EISDIR), as root ignores modes.
    const meta = snapshotMetaFile(a.store, old.id);
    fs.renameSync(meta, `${meta}.aside`);
    fs.mkdirSync(meta);

    const r = await pushQueued(a, remoteOf(w, a), { logger: quiet, now: Date.now, ignoreBackoff: true });
    expect(r.pushed.map((p) => p.id)).toEqual([fresh.id]);
    expect(r.dropped).toEqual([]);
    expect(r.failed?.id).toBe(old.id);
    const queued = (await readPushQueue(a.store)).items;
    expect(queued.map((i) => i.id)).toEqual([old.id]);
    expect(queued[0]!.error).toMatch(/cannot be read|snapshot\.json/);

    fs.rmdirSync(meta);
    fs.renameSync(`${meta}.aside`, meta);
    const again = await pushQueued(a, remoteOf(w, a), { logger: quiet, now: Date.now, ignoreBackoff: true });
    expect(again.pushed.map((p) => p.id)).toEqual([old.id]);
    expect((await readPushQueue(a.store)).items).toEqual([]);
  });
});
