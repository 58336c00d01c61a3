import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsNoFollow, mtimeMsOf, readdirOrEmpty } from '../../src/util/fs.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-util-fs-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('readdirOrEmpty', () => {
  it('lists a folder, and reads a missing folder or a file in its place as empty', async () => {
    fs.writeFileSync(path.join(tmp, 'a'), '');
    fs.mkdirSync(path.join(tmp, 'd'));
    expect((await readdirOrEmpty(tmp)).sort()).toEqual(['a', 'd']);
    expect(await readdirOrEmpty(path.join(tmp, 'missing'))).toEqual([]);
    expect(await readdirOrEmpty(path.join(tmp, 'a'))).toEqual([]);
    expect(await readdirOrEmpty(path.join(tmp, 'a', 'below'))).toEqual([]);
  });
});

describe('existsNoFollow', () => {
  it('sees files, folders and dangling symlinks; not missing paths', async () => {
    fs.writeFileSync(path.join(tmp, 'f'), '');
    fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(tmp, 'dangling'));
    expect(await existsNoFollow(path.join(tmp, 'f'))).toBe(true);
    expect(await existsNoFollow(tmp)).toBe(true);
    expect(await existsNoFollow(path.join(tmp, 'dangling'))).toBe(true);
    expect(await existsNoFollow(path.join(tmp, 'nowhere'))).toBe(false);
  });
});

describe('mtimeMsOf', () => {
  it('turns exact nanoseconds into whole milliseconds, beyond 2^53 ns', () => {
    expect(mtimeMsOf('0')).toBe(0);
    expect(mtimeMsOf('1999999')).toBe(1);
    expect(mtimeMsOf('1767225600123456789')).toBe(1767225600123);
  });
});
