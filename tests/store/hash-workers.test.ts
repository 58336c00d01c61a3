/**
 * Hashing and copying large files on worker threads: right digests and copies for several files at
 * once with progress adding up, a file shorter than expected and a failed read or write reported as
 * such, holes kept, and a process that used them exits as soon as its work is done (idle workers
 * hold nothing open).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CopyWriteError, copyOpenFileOnWorker, hashOpenFileOnWorker, ShortReadError } from '../../src/store/hash-workers.js';
import { put, sha256, tempDir } from './fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('hashOpenFileOnWorker', () => {
  it('hashes more files at once than there are workers, each right, with progress adding up to its size', async () => {
    const dir = await tempDir();
    const files = [20 << 20, 9 << 20, 1, 0, (8 << 20) + 3].map((n, i) => ({ data: randomBytes(n), file: '', i }));
    for (const f of files) f.file = put(dir, `f${f.i}.bin`, f.data);
    const fds = files.map((f) => fs.openSync(f.file, 'r'));
    try {
      const progress = files.map(() => 0);
      const digests = await Promise.all(files.map((f, i) => hashOpenFileOnWorker(fds[i]!, f.data.length, (n) => (progress[i]! += n))));
      expect(digests).toEqual(files.map((f) => sha256(f.data)));
      expect(progress).toEqual(files.map((f) => f.data.length));
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  });

  it('reports where a file that is shorter than expected ends, and a failed read with its code', async () => {
    const dir = await tempDir();
    const file = put(dir, 'short.bin', randomBytes(10 << 20));
    const fd = fs.openSync(file, 'r');
    const dirFd = fs.openSync(dir, 'r');
    try {
      const short = await hashOpenFileOnWorker(fd, 12 << 20).catch((e: unknown) => e);
      expect(short).toBeInstanceOf(ShortReadError);
      expect((short as ShortReadError).at).toBe(10 << 20);
      await expect(hashOpenFileOnWorker(dirFd, 100)).rejects.toMatchObject({ code: 'EISDIR' });
      // The workers are still usable after both.
      expect(await hashOpenFileOnWorker(fd, 10 << 20)).toBe(sha256(fs.readFileSync(file)));
    } finally {
      fs.closeSync(fd);
      fs.closeSync(dirFd);
    }
  });

  it('does not keep a finished process alive', async () => {
    const dir = await tempDir();
    const file = put(dir, 'big.bin', randomBytes(12 << 20));
    // The built module, in a process of its own: it must exit right after printing, not when the
    // idle workers end 30 s later.
    const script = `
      import fs from 'node:fs';
      const { hashOpenFileOnWorker } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/store/hash-workers.js'))});
      const fd = fs.openSync(${JSON.stringify(file)}, 'r');
      console.log(await hashOpenFileOnWorker(fd, ${12 << 20}));
    `;
    // Killed (and failed) if still running after 20 s, well before the workers' idle end.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    expect(stdout.trim()).toBe(sha256(fs.readFileSync(file)));
  });
});

describe('copyOpenFileOnWorker', () => {
  const MiB = 1 << 20;

  it('copies several files at once, each byte for byte, resolving with the sha256 of the copy', async () => {
    const dir = await tempDir();
    const sizes = [21 * MiB + 7, 9 * MiB, 1, 4 * MiB, 0];
    const files = sizes.map((n, i) => {
      const data = randomBytes(n);
      return { data, src: put(dir, `f${i}.bin`, data), dst: path.join(dir, `c${i}.bin`) };
    });
    const fds = files.map((f) => [fs.openSync(f.src, 'r'), fs.openSync(f.dst, 'wx')] as const);
    try {
      const progress = files.map(() => 0);
      const digests = await Promise.all(files.map((f, i) => copyOpenFileOnWorker(fds[i]![0], fds[i]![1], f.data.length, (n) => (progress[i]! += n))));
      expect(digests).toEqual(files.map((f) => sha256(f.data)));
      expect(progress).toEqual(sizes);
      for (const f of files) expect(fs.readFileSync(f.dst).equals(f.data)).toBe(true);
    } finally {
      for (const [a, b] of fds) {
        fs.closeSync(a);
        fs.closeSync(b);
      }
    }
  });

  it('stops where a source shorter than expected ends, reports a failed write as CopyWriteError with its code', async () => {
    const dir = await tempDir();
    const data = randomBytes(10 * MiB + 5);
    const src = put(dir, 'short.bin', data);
    const from = fs.openSync(src, 'r');
    const to = fs.openSync(path.join(dir, 'copy'), 'wx');
    const readOnly = fs.openSync(put(dir, 'ro', ''), 'r');
    try {
      const short = await copyOpenFileOnWorker(from, to, 16 * MiB).catch((e: unknown) => e);
      expect(short).toBeInstanceOf(ShortReadError);
      expect((short as ShortReadError).at).toBe(data.length);
      // Every write was over when it settled: the copy holds exactly what was read.
      expect(fs.readFileSync(path.join(dir, 'copy')).equals(data)).toBe(true);
      const failed = await copyOpenFileOnWorker(from, readOnly, data.length).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(CopyWriteError);
      expect((failed as CopyWriteError).code).toBe('EBADF');
      // The workers are still usable after both.
      expect(await hashOpenFileOnWorker(from, data.length)).toBe(sha256(data));
    } finally {
      fs.closeSync(from);
      fs.closeSync(to);
      fs.closeSync(readOnly);
    }
  });

  it('leaves the holes of a sparse source, a hole at its end included, with the size and hash of the full content', async () => {
    const dir = await tempDir();
    const src = path.join(dir, 'sparse.bin');
    const size = 64 * MiB + 100;
    const fd = fs.openSync(src, 'wx');
    fs.ftruncateSync(fd, size);
    fs.writeSync(fd, Buffer.from('data'), 0, 4, 5 * MiB);
    fs.closeSync(fd);
    const data = fs.readFileSync(src);
    const from = fs.openSync(src, 'r');
    const to = fs.openSync(path.join(dir, 'copy'), 'wx');
    try {
      expect(await copyOpenFileOnWorker(from, to, size)).toBe(sha256(data));
    } finally {
      fs.closeSync(from);
      fs.closeSync(to);
    }
    const st = fs.statSync(path.join(dir, 'copy'));
    expect(st.size).toBe(size);
    expect(st.blocks * 512).toBeLessThan(MiB);
    expect(fs.readFileSync(path.join(dir, 'copy')).equals(data)).toBe(true);
  });
});
