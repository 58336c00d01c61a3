/**
 * `ckptd pull ID` of a snapshot the local store already holds (pushed from here, or pulled before)
 * has nothing to do: a script running `ckptd pull ID && ckptd restore ID` must go on. One marked
 * damaged here is not taken for a good copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeOp } from '../../src/ops/execute.js';
import { pushQueued } from '../../src/ops/push.js';
import { damagedMarkerFile } from '../../src/store/layout.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld } from '../helpers/remote-world.js';

const world = remoteWorld();
const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

describe('a pull of a snapshot already in the local store', () => {
  it('succeeds without copying anything, and says so; one marked damaged here is refused, naming what to do', async () => {
    const w = world();
    const a = await pushingRun(w, 'a');
    const s = await queuedBackup(a, { 'model.bin': 'm'.repeat(1_000), 'state.json': '1' });
    await pushQueued(a, remoteOf(w, a), { logger: quiet, now: Date.now, ignoreBackoff: true });

    const r = await executeOp(a, { kind: 'pull', id: s.id }, { logger: quiet, now: Date.now() });
    expect(r.message).toMatch(new RegExp(`${s.id} is already in ${a.store}`));
    expect(r.data).toMatchObject({ id: s.id, already_local: true });

    fs.mkdirSync(path.dirname(damagedMarkerFile(a.store, s.id)), { recursive: true });
    fs.writeFileSync(damagedMarkerFile(a.store, s.id), JSON.stringify({ id: s.id, checked: new Date().toISOString(), problems: ['model.bin changed'] }));
    await expect(executeOp(a, { kind: 'pull', id: s.id }, { logger: quiet, now: Date.now() })).rejects.toThrow(/marked damaged.*ckptd delete/);
  });
});
