/**
 * The daemon's settle check asks the store what its newest snapshots knew of a file found empty,
 * to wait for one emptied moments ago (`policy/emptied-file.ts`) rather than take a backup the
 * capture would leave it out of. A newer incomplete snapshot may be the only one that saw it with
 * bytes; the answers kept between looks must follow every new snapshot.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KnownBefore } from '../../src/policy/emptied-file.js';
import { KnownBeforeReader } from '../../src/store/known-before.js';
import { age, put, runAndStore, scanAll, snap } from './fixtures.js';

const NOTHING: KnownBefore = { size: null, leftOut: false };

describe('what the newest snapshots knew of a file, for the daemon', () => {
  it('answers from an incomplete snapshot newer than the newest complete one, and follows each new snapshot', async () => {
    const { run, store } = await runAndStore();
    const reader = new KnownBeforeReader();
    age(put(run, 'train.log', 'step 1\n'));
    expect(await reader.of(store, ['ckpt.pt'])).toEqual(new Map([['ckpt.pt', NOTHING]]));
    const complete = await snap(run, store);

    const ckpt = put(run, 'ckpt.pt', Buffer.alloc(4096, 1));
    age(ckpt);
    const entries = (await scanAll(run, store)).filter((e) => e.path !== 'train.log');
    await snap(run, store, { previous: complete, entries, neverSettled: [{ path: 'train.log', reason: 'kept changing' }] });
    expect(await reader.of(store, ['ckpt.pt', 'train.log'])).toEqual(
      new Map([
        ['ckpt.pt', { size: 4096, leftOut: false }],
        ['train.log', { size: 7, leftOut: true }],
      ]),
    );

    // A new complete snapshot without ckpt.pt: the kept answers are for snapshots that are no longer the newest.
    fs.rmSync(ckpt);
    await snap(run, store, { previous: complete });
    expect(await reader.of(store, ['ckpt.pt', 'train.log'])).toEqual(
      new Map([
        ['ckpt.pt', NOTHING],
        ['train.log', { size: 7, leftOut: false }],
      ]),
    );
  });
});
