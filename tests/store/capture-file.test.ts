import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { captureFile, copySmallFileSync, FileChangedError, FileVanishedError, SMALL_FILE } from '../../src/store/capture-file.js';
import { PathSwappedError } from '../../src/store/errors.js';
import { scanState } from '../../src/store/scan.js';
import type { ScanEntry } from '../../src/store/types.js';
import { age, put, rewriteKeepingMtime, sha256, sha256File, tempDir } from './fixtures.js';

async function entryOf(dir: string, rel: string): Promise<ScanEntry> {
  const e = (await scanState(dir, { include: [rel], exclude: [], excludeAbs: [] }))[0];
  if (!e) throw new Error(`no entry for ${rel}`);
  return e;
}

describe('captureFile', () => {
  it('copies to a new read-only file and returns the sha256 of the stored bytes', async () => {
    const dir = await tempDir();
    // Larger than one 8 MiB chunk and not a multiple of it: exercises the overlapped loop.
    const data = randomBytes((8 << 20) * 2 + 12345);
    put(dir, 'src.bin', data);
    const out = await captureFile(path.join(dir, 'src.bin'), path.join(dir, 'dst.bin'), await entryOf(dir, 'src.bin'));
    expect(out.size).toBe(data.length);
    expect(out.sha256).toBe(sha256(data));
    expect(sha256File(path.join(dir, 'dst.bin'))).toBe(sha256(data));
    expect(fs.statSync(path.join(dir, 'dst.bin')).mode & 0o777).toBe(0o444);
  });

  it('copies empty files', async () => {
    const dir = await tempDir();
    put(dir, 'empty', '');
    const out = await captureFile(path.join(dir, 'empty'), path.join(dir, 'copy'), await entryOf(dir, 'empty'), { mode: 0o555 });
    expect(out).toMatchObject({ size: 0, sha256: sha256('') });
    expect(fs.statSync(path.join(dir, 'copy')).mode & 0o777).toBe(0o555);
  });

  it('refuses to overwrite an existing destination', async () => {
    const dir = await tempDir();
    put(dir, 'src', 'new');
    put(dir, 'dst', 'precious');
    await expect(captureFile(path.join(dir, 'src'), path.join(dir, 'dst'), await entryOf(dir, 'src'))).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(path.join(dir, 'dst'), 'utf8')).toBe('precious');
  });

  it('detects a file changed after the scan, before the copy, and stores nothing', async () => {
    const dir = await tempDir();
    const src = put(dir, 'src.bin', 'version one');
    age(src);
    const expect1 = await entryOf(dir, 'src.bin');
    fs.writeFileSync(src, 'version two');
    const err = await captureFile(src, path.join(dir, 'dst'), expect1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileChangedError);
    expect((err as FileChangedError).path).toBe(src);
    expect((err as FileChangedError).changes).toContain('mtime');
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
  });

  it('detects a same-size rewrite after the scan that restored the mtime (touch -r), by its ctime', async () => {
    const dir = await tempDir();
    const src = put(dir, 'src.bin', 'version one');
    age(src);
    const e = await entryOf(dir, 'src.bin');
    rewriteKeepingMtime(src, 'version two');
    for (const size of ['small', 'large'] as const) {
      const dst = path.join(dir, `dst-${size}`);
      const expected = size === 'small' ? e : { ...e, size: SMALL_FILE + 1 };
      if (size === 'large') rewriteKeepingMtime(src, Buffer.alloc(SMALL_FILE + 1, 3));
      const err = await captureFile(src, dst, expected).catch((x: unknown) => x);
      expect(err, size).toBeInstanceOf(FileChangedError);
      expect((err as FileChangedError).changes).toEqual(['ctime']);
      expect(fs.existsSync(dst)).toBe(false);
    }
  });

  it('with inRun, refuses a source reached through a folder swapped for a symlink, small or large, storing nothing', async () => {
    const dir = await tempDir();
    const run = path.join(dir, 'run');
    put(run, 'ckpt/small.bin', 'inside');
    put(run, 'ckpt/large.bin', Buffer.alloc(SMALL_FILE + 1, 1));
    const entries = { small: await entryOf(run, 'ckpt/small.bin'), large: await entryOf(run, 'ckpt/large.bin') };
    const outside = path.join(dir, 'outside');
    fs.renameSync(path.join(run, 'ckpt'), outside);
    fs.symlinkSync(outside, path.join(run, 'ckpt'));
    for (const name of ['small', 'large'] as const) {
      const src = path.join(run, 'ckpt', `${name}.bin`);
      const dst = path.join(dir, `dst-${name}`);
      const err = await captureFile(src, dst, entries[name], { inRun: path.join(fs.realpathSync(run), 'ckpt', `${name}.bin`) }).catch((x: unknown) => x);
      expect(err, name).toBeInstanceOf(PathSwappedError);
      expect((err as PathSwappedError).opened).toBe(path.join(outside, `${name}.bin`));
      expect(fs.existsSync(dst)).toBe(false);
    }
    // The same open without the check is what the capture did before.
    const plain = await captureFile(path.join(run, 'ckpt', 'small.bin'), path.join(dir, 'plain'), entries.small);
    expect(plain.size).toBe('inside'.length);
  });

  it('detects a file rewritten during the copy and never keeps the torn copy', async () => {
    const dir = await tempDir();
    const size = 40 << 20;
    const src = put(dir, 'src.bin', Buffer.alloc(size, 1));
    age(src);
    const e = await entryOf(dir, 'src.bin');
    let wrote = false;
    const err = await captureFile(src, path.join(dir, 'dst'), e, {
      onBytes: () => {
        if (wrote) return;
        wrote = true;
        // The writer overwrites the tail in place while the head is already copied.
        const fd = fs.openSync(src, 'r+');
        fs.writeSync(fd, Buffer.alloc(1 << 20, 2), 0, 1 << 20, size - (1 << 20));
        fs.closeSync(fd);
      },
    }).catch((x: unknown) => x);
    expect(wrote).toBe(true);
    expect(err).toBeInstanceOf(FileChangedError);
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
  });

  it('detects a file that keeps growing from a concurrent writer; a copy that succeeds is whole', async () => {
    const dir = await tempDir();
    const src = put(dir, 'grow.bin', randomBytes(24 << 20));
    age(src);
    const e = await entryOf(dir, 'grow.bin');
    const timer = setInterval(() => fs.appendFileSync(src, randomBytes(64 << 10)), 1);
    const dst = path.join(dir, 'dst');
    let result: unknown;
    try {
      result = await captureFile(src, dst, e).catch((x: unknown) => x);
    } finally {
      clearInterval(timer);
    }
    if (result instanceof FileChangedError) {
      expect(fs.existsSync(dst)).toBe(false);
    } else {
      // The interval never ran during the copy: then the copy must be exactly the scanned version.
      const head = fs.readFileSync(src).subarray(0, e.size);
      expect(sha256File(dst)).toBe(sha256(head));
      expect(fs.statSync(dst).size).toBe(e.size);
    }
  });

  it('detects a file replaced by another one (rename over it)', async () => {
    const dir = await tempDir();
    const src = put(dir, 'model.pt', 'AAAA');
    age(src);
    const e = await entryOf(dir, 'model.pt');
    const other = put(dir, 'other', 'BBBB');
    fs.utimesSync(other, fs.statSync(src).atime, fs.statSync(src).mtime);
    fs.renameSync(other, src);
    const err = await captureFile(src, path.join(dir, 'dst'), e).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(FileChangedError);
    expect((err as FileChangedError).changes.join(' ')).toMatch(/inode/);
  });

  it('throws FileVanishedError for a missing source', async () => {
    const dir = await tempDir();
    const src = put(dir, 'gone', 'x');
    const e = await entryOf(dir, 'gone');
    fs.unlinkSync(src);
    await expect(captureFile(src, path.join(dir, 'dst'), e)).rejects.toBeInstanceOf(FileVanishedError);
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
  });

  it('never follows a symlink swapped in for the file', async () => {
    const dir = await tempDir();
    const src = put(dir, 'model.pt', 'AAAA');
    const e = await entryOf(dir, 'model.pt');
    put(dir, 'outside', 'secret');
    fs.unlinkSync(src);
    fs.symlinkSync(path.join(dir, 'outside'), src);
    await expect(captureFile(src, path.join(dir, 'dst'), e)).rejects.toBeInstanceOf(FileChangedError);
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
  });

  it('copies a small file with one read and one write: the stored bytes are the hashed ones', async () => {
    const dir = await tempDir();
    for (const size of [1, 4096, SMALL_FILE]) {
      const data = randomBytes(size);
      put(dir, `src-${size}`, data);
      const dst = path.join(dir, `dst-${size}`);
      const out = await captureFile(path.join(dir, `src-${size}`), dst, await entryOf(dir, `src-${size}`), { mode: 0o555 });
      expect(out).toMatchObject({ size, sha256: sha256(data) });
      expect(fs.readFileSync(dst).equals(data)).toBe(true);
      expect(fs.statSync(dst).mode & 0o777).toBe(0o555);
    }
  });

  it('a small copy is whole and read-only before sync(); sync() leaves no file descriptor open', async () => {
    const dir = await tempDir();
    const src = put(dir, 'state.json', '{"step": 7}');
    const dst = path.join(dir, 'copy.json');
    const fds = fs.readdirSync('/proc/self/fd').length;
    const copy = copySmallFileSync(src, dst, await entryOf(dir, 'state.json'), 0o444);
    expect(fs.readFileSync(dst, 'utf8')).toBe('{"step": 7}');
    expect(fs.statSync(dst).mode & 0o777).toBe(0o444);
    expect(copy.sha256).toBe(sha256('{"step": 7}'));
    await copy.sync();
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds);
  });

  it.each(['sync', 'close'] as const)('a small copy whose close fails (%s) is removed, and its descriptor never closed twice', async (how) => {
    const dir = await tempDir();
    const src = put(dir, 'state.json', '{"step": 7}');
    const dst = path.join(dir, 'copy.json');
    const copy = copySmallFileSync(src, dst, await entryOf(dir, 'state.json'), 0o444);
    // The descriptor is freed by a close that fails (Linux): the number may belong to another
    // thread's file a moment later, so a second close of it would close that file.
    const closed: number[] = [];
    const real = fs.closeSync;
    const spy = vi.spyOn(fs, 'closeSync').mockImplementation((fd: number) => {
      closed.push(fd);
      real(fd);
      if (closed.length === 1) throw Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO' });
    });
    try {
      if (how === 'sync') await expect(copy.sync()).rejects.toThrow(/EIO/);
      else expect(() => copy.close()).toThrow(/EIO/);
    } finally {
      spy.mockRestore();
    }
    expect(closed).toHaveLength(1);
    expect(fs.existsSync(dst)).toBe(false);
  });

  it('a small copy of a file that changed since the scan throws and leaves nothing, synchronously', async () => {
    const dir = await tempDir();
    const src = put(dir, 'a.json', '{}');
    age(src);
    const e = await entryOf(dir, 'a.json');
    fs.appendFileSync(src, ' ');
    expect(() => copySmallFileSync(src, path.join(dir, 'dst'), e, 0o444)).toThrow(FileChangedError);
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
    fs.unlinkSync(src);
    expect(() => copySmallFileSync(src, path.join(dir, 'dst'), e, 0o444)).toThrow(FileVanishedError);
  });

  it('refuses a file over SMALL_FILE for a small copy', async () => {
    const dir = await tempDir();
    const src = put(dir, 'big', Buffer.alloc(SMALL_FILE + 1));
    const e = await entryOf(dir, 'big');
    expect(() => copySmallFileSync(src, path.join(dir, 'dst'), e, 0o444)).toThrow(RangeError);
    expect(fs.existsSync(path.join(dir, 'dst'))).toBe(false);
  });

  it('removes a small copy when onBytes throws', async () => {
    const dir = await tempDir();
    put(dir, 'src', 'bytes');
    const dst = path.join(dir, 'dst');
    const err = await captureFile(path.join(dir, 'src'), dst, await entryOf(dir, 'src'), {
      onBytes: () => {
        throw new Error('stop');
      },
    }).catch((x: unknown) => x);
    expect((err as Error).message).toBe('stop');
    expect(fs.existsSync(dst)).toBe(false);
  });
});
