/**
 * `RunView.readZipPrefix`: the start of one entry of a zip file of the run, as the lightning preset
 * reads the pickle of a `torch.save` checkpoint (`fixtures/make_lightning_ckpts.py` wrote the
 * checkpoint the way `torch.save` does); and `RunView.readRange`, as the keras preset reads a
 * scalar in a TensorFlow checkpoint's data file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { torchPickleEntry } from '../../src/progress/lightning-checkpoint.js';
import { diskView, readCapturedProgress } from '../../src/progress/read-progress.js';
import { preset, put, scanList, tempRun } from './fixtures.js';
import { writeSparseZip, zipFile } from './model-files.js';

const LAST = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/lightning/lightning_logs/version_1/checkpoints/last.ckpt'));
/** How every Lightning checkpoint's pickle starts: PROTO 2, a dict, then `epoch`. */
const PICKLE_START = Buffer.from('\x80\x02}q\x00(X\x05\x00\x00\x00epoch', 'latin1');

describe('readZipPrefix', () => {
  it('reads the start of archive/data.pkl in a torch.save zip, and all of it when it is shorter', async () => {
    const run = await tempRun();
    put(run, 'last.ckpt', LAST);
    const view = diskView(run, [], 100);
    expect(await view.readZipPrefix('last.ckpt', torchPickleEntry, PICKLE_START.length)).toEqual(PICKLE_START);
    // Bigger than the text cap of this view (100 bytes), still read: only `maxBytes` bounds it.
    const whole = await view.readZipPrefix('last.ckpt', torchPickleEntry, 1 << 20);
    expect(whole?.subarray(0, PICKLE_START.length)).toEqual(PICKLE_START);
    expect(whole?.at(-1)).toBe(0x2e); // STOP: the whole pickle
  });

  it('reads only the prefix of a stored entry, however big (a 3 GB sparse one here)', async () => {
    const run = await tempRun();
    writeSparseZip(path.join(run, 'big.ckpt'), { 'archive/data.pkl': { hole: 3_000_000_000 }, 'archive/version': '3\n' });
    const view = diskView(run, []);
    expect(await view.readZipPrefix('big.ckpt', torchPickleEntry, 16)).toEqual(Buffer.alloc(16));
  });

  it('reads a deflated entry only when it fits whole', async () => {
    const run = await tempRun();
    put(run, 'd.zip', zipFile({ 'archive/data.pkl': 'x'.repeat(1000) }, 'deflated'));
    const view = diskView(run, []);
    expect((await view.readZipPrefix('d.zip', torchPickleEntry, 1000))?.toString()).toBe('x'.repeat(1000));
    expect(await view.readZipPrefix('d.zip', torchPickleEntry, 999)).toBeNull();
  });

  it('is null for a pick of nothing, a file that is not a zip, a folder, a FIFO or a missing file', async () => {
    const run = await tempRun();
    put(run, 'last.ckpt', LAST);
    put(run, 'flat.zip', zipFile({ 'data.pkl': 'no folder' }));
    put(run, 'not.ckpt', 'not a zip');
    fs.mkdirSync(path.join(run, 'dir'));
    execFileSync('mkfifo', [path.join(run, 'pipe')]);
    const view = diskView(run, []);
    expect(await view.readZipPrefix('last.ckpt', () => null, 10)).toBeNull();
    expect(await view.readZipPrefix('flat.zip', torchPickleEntry, 10)).toBeNull();
    for (const rel of ['not.ckpt', 'dir', 'pipe', 'missing.ckpt']) expect(await view.readZipPrefix(rel, torchPickleEntry, 10)).toBeNull();
  });
});

describe('torchPickleEntry', () => {
  it.each([
    [['archive/data.pkl', 'archive/byteorder', 'archive/data/0', 'archive/version'], 'archive/data.pkl'],
    // Older torch named the folder after the file's stem when saving by path.
    [['model/data.pkl', 'model/data/0', 'model/version'], 'model/data.pkl'],
    [['archive/version', 'archive/data.pkl'], 'archive/data.pkl'],
    [['other/data.pkl', 'archive/data.pkl'], 'other/data.pkl'],
    [['data.pkl'], null],
    [['archive/byteorder', 'x/data.pkl'], null],
    [[], null],
  ])('%j → %s', (names, expected) => {
    expect(torchPickleEntry(names)).toBe(expected);
  });
});

describe('readCapturedProgress', () => {
  it('reads a checkpoint inside a zip from the snapshot copy, not from the live run', async () => {
    const live = await tempRun();
    const copy = await tempRun();
    put(live, 'checkpoints/last.ckpt', 'rewritten since: not a zip', 9);
    put(copy, 'checkpoints/last.ckpt', LAST, 5);
    const progress = await readCapturedProgress(copy, live, preset('lightning'), await scanList(copy));
    expect([progress.epoch, progress.step, progress.source]).toEqual([8, 800, 'lightning']);
  });
});

describe('readRange', () => {
  it('reads bytes at a place in a file of any size; null past its end and for folders, FIFOs or missing files', async () => {
    const run = await tempRun();
    put(run, 'ckpt-4.data-00001-of-00002', Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    fs.mkdirSync(path.join(run, 'dir'));
    execFileSync('mkfifo', [path.join(run, 'pipe')]);
    const view = diskView(run, [], 4);
    expect(await view.readRange('ckpt-4.data-00001-of-00002', 2, 8)).toEqual(Buffer.from([3, 4, 5, 6, 7, 8, 9, 10]));
    expect(await view.readRange('ckpt-4.data-00001-of-00002', 3, 8)).toBeNull();
    for (const rel of ['dir', 'pipe', 'missing']) expect(await view.readRange(rel, 0, 1)).toBeNull();
  });
});
