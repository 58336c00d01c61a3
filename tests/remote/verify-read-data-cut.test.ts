/**
 * `verify --remote --read-data` whose download is cut mid-object: the report names the file whose
 * download was interrupted and says nothing was marked, and no damaged marker is written.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runVerify } from '../../src/cli/verify.js';
import { pushQueued } from '../../src/ops/push.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { MiB, remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

describe('verify --remote --read-data, cut mid-download', () => {
  it('names the file and says nothing was marked; the record is not marked damaged', async () => {
    const w = world();
    const run = await pushingRun(w, 'a');
    const s = await queuedBackup(run, { 'model.bin': 'm'.repeat(2 * MiB) });
    const remote = remoteOf(w, run);
    expect((await pushQueued(run, remote, { logger: quiet, now: Date.now, ignoreBackoff: true })).pushed.map((p) => p.id)).toEqual([s.id]);

    w.proxy.inject({ kind: 'drop', direction: 'response', afterBytes: MiB, match: { method: 'GET', url: /\/blobs\// } });
    const { exitCode, output } = await runVerify({ store: remote, ids: [s.id], json: false, isTTY: false, stderr: new PassThrough() });
    expect(exitCode).toBe(1);
    expect(w.proxy.requests().filter((r) => r.fault === 'drop')).toHaveLength(1);
    const text = String(output);
    expect(text).toContain(`${s.id} ERROR: the download of model.bin from ${remote.location} was interrupted (`);
    expect(text).toContain(`nothing was marked: run \`ckptd verify ${s.id} --remote --read-data\` again`);
    expect(await remote.damagedIds()).toEqual(new Set());
  });
});
