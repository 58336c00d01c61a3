/**
 * A capture's verdict (settled or not) belongs to the version it judged: when a slot's file turns
 * out to be a newer version, that version is not copied on the strength of the old verdict, only
 * once a later pass judged it settled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureSet, RETRY } from '../../src/store/capture-set.js';
import { prepareSlot } from '../../src/store/prepare-slot.js';
import { lstatSeen } from '../../src/store/source-seen.js';
import { age, put, runAndStore, scanAll } from './fixtures.js';

describe('a slot whose file changed since it was judged', () => {
  it('is left for the next pass, not copied under the verdict on the version before', async () => {
    const { run, store, base } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', Buffer.alloc(64 << 10, 1));
    age(ckpt);
    const entries = await scanAll(run, store);
    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    const set = new CaptureSet({ runDir: run, entries, dest, previous: null, retries: 1, retryDelayMs: 5, settleMs: 50 }, run);
    const slot = set.slots[0]!;
    // As `judgeChanged` leaves a version it found settled.
    slot.unsettled = null;

    fs.writeFileSync(ckpt, Buffer.alloc(2 << 20, 2));
    set.changed(slot, lstatSeen(ckpt)!);

    expect(prepareSlot(set, slot, false)).toEqual(RETRY);
    expect(fs.readdirSync(dest)).toEqual([]);
  });
});
