/** Part sizes within S3's limits, part ranges, and the resume state's shape. */
import { describe, expect, it } from 'vitest';
import { choosePartSize, completedParts, isUploadState, MAX_PARTS, MiB, MIN_PART_SIZE, partCount, partRange, withPart, type UploadState } from '../../../src/store/remote/upload-state.js';

describe('choosePartSize', () => {
  it.each([0, 1, 16 * MiB, 100 * 1024 * MiB, 160 * 1024 * MiB, 1024 * 1024 * MiB, 5 * 1024 * 1024 * MiB])('%d bytes fit in 10,000 parts of at least 5 MiB', (size) => {
    const p = choosePartSize(size);
    expect(p).toBeGreaterThanOrEqual(MIN_PART_SIZE);
    expect(p % MiB).toBe(0);
    expect(partCount(size, p)).toBeLessThanOrEqual(MAX_PARTS);
  });

  it('keeps the preferred size when it fits, never under 5 MiB', () => {
    expect(choosePartSize(10 * 1024 * MiB, 32 * MiB)).toBe(32 * MiB);
    expect(choosePartSize(100 * MiB, MiB)).toBe(MIN_PART_SIZE);
  });
});

describe('parts', () => {
  it('cover the blob exactly, the last one short', () => {
    const size = 2 * MIN_PART_SIZE + 7;
    expect(partCount(size, MIN_PART_SIZE)).toBe(3);
    expect([1, 2, 3].map((n) => partRange(size, MIN_PART_SIZE, n))).toEqual([
      { position: 0, length: MIN_PART_SIZE },
      { position: MIN_PART_SIZE, length: MIN_PART_SIZE },
      { position: 2 * MIN_PART_SIZE, length: 7 },
    ]);
  });

  const state: UploadState = { key: 'k', sha: 's', size: 2 * MIN_PART_SIZE + 7, partSize: MIN_PART_SIZE, uploadId: 'u', parts: [] };
  const part = (number: number, etag = `e${number}`) => ({ number, etag, sha256: 'x', size: 1 });

  it('withPart records a part once, in order, replacing an earlier record', () => {
    const s = withPart(withPart(withPart(state, part(2)), part(1)), part(2, 'again'));
    expect(s.parts.map((p) => [p.number, p.etag])).toEqual([
      [1, 'e1'],
      [2, 'again'],
    ]);
    expect(state.parts).toEqual([]);
  });

  it('completedParts lists every part, or null while one is missing', () => {
    expect(completedParts(withPart(withPart(state, part(1)), part(3)))).toBeNull();
    expect(completedParts([1, 2, 3].reduce((s, n) => withPart(s, part(n)), state))).toEqual([1, 2, 3].map((n) => ({ PartNumber: n, ETag: `e${n}` })));
  });

  it('isUploadState accepts what was persisted and refuses anything else', () => {
    const s = withPart(state, part(1));
    expect(isUploadState(JSON.parse(JSON.stringify(s)))).toBe(true);
    for (const bad of [null, 'x', {}, { ...s, uploadId: '' }, { ...s, partSize: MiB }, { ...s, parts: [{ number: 1 }] }, { ...s, size: -1 }]) expect(isUploadState(bad)).toBe(false);
  });
});
