/** A sparse file for the tests of hole-keeping copies (capture and restore). */
import fs from 'node:fs';

const MiB = 1 << 20;

/** A 256 MiB file of holes but for a few bytes at the start, in the middle, across a block boundary and at the end. */
export function makeSparse(file: string): Buffer {
  const size = 256 * MiB;
  const fd = fs.openSync(file, 'wx');
  try {
    fs.ftruncateSync(fd, size);
    for (const [at, text] of [
      [0, 'head'],
      [100 * MiB + 4094, 'across'],
      [size - 3, 'end'],
    ] as const) {
      fs.writeSync(fd, Buffer.from(text), 0, text.length, at);
    }
  } finally {
    fs.closeSync(fd);
  }
  return fs.readFileSync(file);
}
