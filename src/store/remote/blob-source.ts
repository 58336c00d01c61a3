/**
 * The local file a blob is uploaded from, opened once and read by ranges. Every read checks that
 * the file still has the size and mtime it had when opened, so a file rewritten mid-upload is
 * noticed at the next part rather than only when the whole content's sha256 is compared.
 */
import fsp from 'node:fs/promises';
import { FileChangedError } from '../errors.js';

/** An open source file of a known size. */
export interface BlobSource {
  path: string;
  size: number;
  /** Exactly `length` bytes at `position`; throws `FileChangedError` when the file shrank or changed. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Opens `file`, which must be a regular file of exactly `size` bytes (else `FileChangedError`). */
export async function openBlobSource(file: string, size: number): Promise<BlobSource> {
  const fh = await fsp.open(file, 'r');
  try {
    const first = await fh.stat();
    if (!first.isFile()) throw new FileChangedError(file, ['no longer a regular file']);
    if (first.size !== size) throw new FileChangedError(file, [`size ${size} -> ${first.size}`]);
    return {
      path: file,
      size,
      async read(position, length) {
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, position + got);
          if (bytesRead === 0) throw new FileChangedError(file, [`ended at ${position + got} of ${size} bytes`]);
          got += bytesRead;
        }
        const now = await fh.stat();
        if (now.size !== size) throw new FileChangedError(file, [`size ${size} -> ${now.size}`]);
        if (now.mtimeMs !== first.mtimeMs) throw new FileChangedError(file, ['mtime']);
        return buf;
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}
