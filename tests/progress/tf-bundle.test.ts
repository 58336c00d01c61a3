/**
 * The TensorFlow checkpoint index reader against an index written byte for byte as TensorFlow's
 * `BundleWriter` writes it (`fixtures/make_tf_keras_backup.py`), cut anywhere, and garbage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleDataFile, readBundleIndex } from '../../src/progress/tf-bundle.js';

const INDEX = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tf-keras/backup/chief/ckpt-4.index'));

describe('readBundleIndex', () => {
  it('reads the shard count and where each tensor lies', () => {
    const index = readBundleIndex(INDEX);
    expect(index?.numShards).toBe(2);
    expect(index?.entries.get('ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE')).toEqual({ dtype: 9, shardId: 1, offset: 8, size: 8 });
    expect(index?.entries.get('_CHECKPOINTABLE_OBJECT_GRAPH')).toMatchObject({ dtype: 7, shardId: 0, offset: 0 });
    expect([...(index?.entries.keys() ?? [])]).toEqual([...(index?.entries.keys() ?? [])].sort());
    expect(index?.entries.size).toBe(11);
  });

  it('never throws on a cut-off or garbled index, and reads none of them', () => {
    for (let n = 0; n < INDEX.length; n++) expect(readBundleIndex(INDEX.subarray(0, n))).toBeNull();
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(INDEX);
      for (let j = 0; j < 4; j++) bytes[random() * 3] = random();
      expect(() => readBundleIndex(bytes)).not.toThrow();
    }
  });

  it('refuses a compressed block rather than misreading it', () => {
    const bytes = Buffer.from(INDEX);
    // The one data block comes first, then its 5-byte trailer (type, CRC), then the metaindex
    // block, whose offset is the footer's first varint.
    const footer = bytes.subarray(bytes.length - 48);
    let metaindexAt = 0;
    for (let i = 0, shift = 0; ; i++, shift += 7) {
      metaindexAt += ((footer[i] as number) & 0x7f) * 2 ** shift;
      if (((footer[i] as number) & 0x80) === 0) break;
    }
    const trailerAt = metaindexAt - 5;
    expect(bytes[trailerAt]).toBe(0);
    bytes[trailerAt] = 1; // Snappy
    expect(readBundleIndex(bytes)).toBeNull();
  });
});

describe('bundleDataFile', () => {
  it('names the data files as BundleWriter does', () => {
    expect(bundleDataFile('backup/chief/ckpt-4', 1, 2)).toBe('backup/chief/ckpt-4.data-00001-of-00002');
    expect(bundleDataFile('ckpt-12', 0, 1)).toBe('ckpt-12.data-00000-of-00001');
  });
});
