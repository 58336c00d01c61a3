/**
 * `ckptd delete ID --remote` says the person does not want ID on the remote. A bare `ckptd push`
 * (or the daemon's catch-up) after it must not send it again, even when it is the newest record
 * (nothing newer left there to tell it was pushed before); `ckptd push ID` names it, and sends it.
 */
import { describe, expect, it } from 'vitest';
import { executeOp } from '../../src/ops/execute.js';
import { pushQueued, queueForPush } from '../../src/ops/push.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const ctx = { logger: quiet, now: Date.now, ignoreBackoff: true };

describe('a push after delete --remote', () => {
  it('does not send the deleted newest record again unless it is named', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const old = await queuedBackup(a, { 'model.bin': 'o'.repeat(500), 'state.json': '1' });
    const newest = await queuedBackup(a, { 'model.bin': 'n'.repeat(500), 'state.json': '2' });
    await pushQueued(a, remoteOf(w, a), ctx);

    await executeOp(a, { kind: 'delete', ids: [newest.id], force: false, remote: true }, { logger: quiet, now: Date.now() });
    expect([...(await remoteOf(w, a).recordIds())]).toEqual([old.id]);

    const bare = await queueForPush(a, remoteOf(w, a), null, Date.now());
    expect(bare.queued).toEqual([]);
    expect(bare.skipped).toContainEqual(expect.objectContaining({ id: newest.id, code: 'removed-from-remote' }));

    const named = await queueForPush(a, remoteOf(w, a), [newest.id], Date.now());
    expect(named.queued).toEqual([newest.id]);
    await pushQueued(a, remoteOf(w, a), ctx);
    expect([...(await remoteOf(w, a).recordIds())].sort()).toEqual([old.id, newest.id].sort());
  });
});
