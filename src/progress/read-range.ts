/**
 * Bounded reads of byte ranges from files that may be huge (multi-GB models), still being written,
 * garbled, or not regular files at all. Used to look at file headers without reading files whole.
 */
import { constants } from 'node:fs';
import fsp from 'node:fs/promises';

/** A regular file opened for ranged reads. */
export interface RangeReader {
  /** The file's size in bytes when it was opened. */
  size: number;
  /**
   * Exactly `length` bytes from `position`, or null when the file holds fewer there (truncated,
   * shrinking) or the range is negative. Never rejects.
   */
  read(position: number, length: number): Promise<Buffer | null>;
}

/**
 * Opens `file` (following symlinks, without blocking on FIFOs) and calls `use` with a reader, then
 * closes it. Resolves to null, never rejects, when the file is missing, unreadable, not a regular
 * file, or when `use` throws. Memory use is whatever `use` asks `read` for: callers bound it.
 */
export async function withRangeReader<T>(file: string, use: (reader: RangeReader) => Promise<T | null>): Promise<T | null> {
  let fh: fsp.FileHandle | undefined;
  try {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const handle = fh;
    return await use({ size: st.size, read: (position, length) => readExactly(handle, position, length) });
  } catch {
    return null;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** A `RangeReader` over bytes already in memory (for in-memory views in tests and callers alike). */
export function bufferRangeReader(bytes: Buffer): RangeReader {
  return {
    size: bytes.length,
    read: async (position, length) => {
      const ok = Number.isSafeInteger(position) && Number.isSafeInteger(length) && position >= 0 && length >= 0;
      return ok && position + length <= bytes.length ? Buffer.from(bytes.subarray(position, position + length)) : null;
    },
  };
}

/** The first `headBytes` and the last `tailBytes` of the reader's file (each all of it when shorter); null when a read fails. */
export async function readEnds(reader: RangeReader, headBytes: number, tailBytes: number): Promise<{ head: Buffer; tail: Buffer } | null> {
  const headLength = Math.min(reader.size, Math.max(0, headBytes));
  const tailLength = Math.min(reader.size, Math.max(0, tailBytes));
  const [head, tail] = await Promise.all([reader.read(0, headLength), reader.read(reader.size - tailLength, tailLength)]);
  return head && tail ? { head, tail } : null;
}

async function readExactly(fh: fsp.FileHandle, position: number, length: number): Promise<Buffer | null> {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) return null;
  try {
    const buf = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
      if (bytesRead === 0) return null;
      filled += bytesRead;
    }
    return buf;
  } catch {
    return null;
  }
}
