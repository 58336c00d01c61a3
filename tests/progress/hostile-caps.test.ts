/**
 * Crafted files that cost a reader memory or time far past their size, or took the process down,
 * until a cap bounded what the reader keeps or parses: each test here failed (or aborted) before
 * its cap. The caps are generous: every real trainer file in the other tests still reads.
 */
import { describe, expect, it } from 'vitest';
import { readBundleIndex } from '../../src/progress/tf-bundle.js';

const KiB = 1024;

describe('a TensorFlow bundle index', () => {
  /** An uncompressed index of one data block of `entries` (shared, non-shared key bytes), `handles` index entries pointing at it. */
  const bundleIndex = (entries: [number, Buffer][], handles = 1): Buffer => {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
      return [...out, n];
    };
    const blockOf = (items: Buffer[]): Buffer => Buffer.concat([...items, Buffer.from([0, 0, 0, 0, 1, 0, 0, 0])]);
    const data = blockOf(entries.map(([shared, rest]) => Buffer.concat([Buffer.from([...varint(shared), ...varint(rest.length), 0]), rest])));
    const handle = Buffer.from([...varint(0), ...varint(data.length)]);
    const index = blockOf(Array.from({ length: handles }, () => Buffer.concat([Buffer.from([0, 0, handle.length]), handle])));
    const trailer = Buffer.alloc(5);
    const indexAt = data.length + 5;
    const footer = Buffer.alloc(48);
    Buffer.from([0, 0, ...varint(indexAt), ...varint(index.length)]).copy(footer);
    footer.writeUInt32LE(0x8b80fb57, 40);
    footer.writeUInt32LE(0xdb477524, 44);
    return Buffer.concat([data, trailer, index, trailer, footer]);
  };

  it('reads a well-formed one built here', () => {
    const index = readBundleIndex(bundleIndex([[0, Buffer.from('a/b')], [2, Buffer.from('c')]]));
    expect([...(index?.entries.keys() ?? [])]).toEqual(['a/b', 'a/c']);
  });

  it('refuses entries that repeat a long key (64 MiB of keys from 70 KB)', () => {
    const repeats = Array.from({ length: 1000 }, (): [number, Buffer] => [64 * KiB, Buffer.alloc(0)]);
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(64 * KiB, 0x61)], ...repeats]))).toBeNull();
  });

  it('refuses an index block that walks the same data block again and again', () => {
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(4 * KiB, 0x61)]], 1))?.entries.size).toBe(1);
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(4 * KiB, 0x61)]], 1000))).toBeNull();
  });
});
