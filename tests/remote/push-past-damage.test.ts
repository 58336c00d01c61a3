/**
 * A queued record whose stored bytes went bad (a disk error, a hand edit inside the store) must not
 * hold up the push of every record queued after it: the pod may die before anyone runs
 * `ckptd verify`, and the newer backups are what `--resume` on the next pod needs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pushQueued } from '../../src/ops/push.js';
import { storeOf } from '../../src/store/local-store.js';
import { snapshotFilesDir } from '../../src/store/layout.js';
import { readPushQueue } from '../../src/store/push-queue-file.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** Overwrites a stored file in place with bytes of the same size (as a bad sector or an edit would). */
function spoil(store: string, id: string, rel: string): void {
  const file = path.join(snapshotFilesDir(store, id), rel);
  fs.chmodSync(file, 0o644);
  const bytes = fs.readFileSync(file);
  bytes[0] = bytes[0]! ^ 0xff;
  fs.writeFileSync(file, bytes);
}

describe('a push past a damaged record', () => {
  for (const [what, size] of [['a small file', 2_000], ['a multipart file', 6 << 20]] as const) {
    it(`the newer backups still go up when the oldest queued one holds ${what} that no longer matches its sha256`, async () => {
      const w = world();
      const a = await pushingRun(w, 'a');
      const old = await queuedBackup(a, { 'model.bin': 'o'.repeat(size), 'state.json': '1' });
      const fresh = await queuedBackup(a, { 'model.bin': 'n'.repeat(size), 'state.json': '2' });
      spoil(a.store, old.id, 'model.bin');

      const r = await pushQueued(a, remoteOf(w, a), { logger: quiet, now: Date.now, ignoreBackoff: true });
      expect(r.pushed.map((p) => p.id)).toEqual([fresh.id]);
      expect(r.dropped).toEqual([old.id]);
      // The damage is recorded as `ckptd verify` would, and the bad bytes never reach the remote.
      expect((await storeOf(a.store).resolve(old.id)).damaged).toBe(true);
      expect([...(await remoteOf(w, a).recordIds())]).toEqual([fresh.id]);
      expect((await readPushQueue(a.store)).items).toEqual([]);
    });
  }
});
