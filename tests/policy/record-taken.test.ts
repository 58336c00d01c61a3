import { describe, expect, it } from 'vitest';
import { recordTaken } from '../../src/policy/decide.js';
import { rewindAnchors } from '../../src/policy/record-taken.js';
import type { PolicyName, PolicyState, Progress, RunState } from '../../src/policy/types.js';
import { at, runState } from './fixtures.js';

const before = runState(
  { lastEpoch: 4, lastStep: 400, anchorAt: 1, changes: 3, lastDigest: 'b0' },
  { lastEpoch: 2, lastStep: 200, anchorAt: 2, changes: 1, lastDigest: 's0' },
);

const rows: { name: string; policy: PolicyName; progress: Progress; want: PolicyState }[] = [
  { name: 'backup with epoch and step', policy: 'backup', progress: at(6, 600), want: { lastEpoch: 6, lastStep: 600, anchorAt: 99, changes: 0, lastDigest: 'd' } },
  { name: 'backup with no progress keeps the old anchors', policy: 'backup', progress: at(null, null), want: { lastEpoch: 4, lastStep: 400, anchorAt: 99, changes: 0, lastDigest: 'd' } },
  { name: 'backup with only a step', policy: 'backup', progress: at(null, 700), want: { lastEpoch: 4, lastStep: 700, anchorAt: 99, changes: 0, lastDigest: 'd' } },
  { name: 'backup after progress went back records the lower values', policy: 'backup', progress: at(1, 100), want: { lastEpoch: 1, lastStep: 100, anchorAt: 99, changes: 0, lastDigest: 'd' } },
  { name: 'save with a fractional epoch', policy: 'save', progress: at(2.5, null), want: { lastEpoch: 2.5, lastStep: 200, anchorAt: 99, changes: 0, lastDigest: 'd' } },
];

describe('recordTaken', () => {
  it.each(rows)('$name', ({ policy, progress, want }) => {
    const frozen: RunState = structuredClone(before);
    const after = recordTaken(before, policy, progress, 'd', 99);
    expect(after[policy]).toEqual(want);
    const other = policy === 'backup' ? 'save' : 'backup';
    expect(after[other]).toEqual(before[other]);
    expect(before).toEqual(frozen);
  });
});

const rewindRows: { name: string; restored: Progress; want: [number | null, number | null, number | null, number | null] }[] = [
  { name: 'restored before both anchors: both policies move back', restored: at(1, 100), want: [1, 100, 1, 100] },
  { name: 'restored between the save and the backup anchors: only the backup moves back', restored: at(3, 300), want: [3, 300, 2, 200] },
  { name: 'restored at the anchor: nothing moves', restored: at(4, 400), want: [4, 400, 2, 200] },
  { name: 'restored past both anchors: nothing moves forward', restored: at(9, 900), want: [4, 400, 2, 200] },
  { name: 'restored epoch unknown: only the step moves back', restored: at(null, 100), want: [4, 100, 2, 100] },
  { name: 'restored progress unknown: nothing moves', restored: at(null, null), want: [4, 400, 2, 200] },
];

describe('rewindAnchors', () => {
  it.each(rewindRows)('$name', ({ restored, want }) => {
    const frozen: RunState = structuredClone(before);
    const after = rewindAnchors(before, restored);
    expect([after.backup.lastEpoch, after.backup.lastStep, after.save.lastEpoch, after.save.lastStep]).toEqual(want);
    // Only the crossing anchors move: a restored state is not a new change, nor a snapshot taken.
    for (const p of ['backup', 'save'] as const) {
      expect({ ...after[p], lastEpoch: 0, lastStep: 0 }).toEqual({ ...before[p], lastEpoch: 0, lastStep: 0 });
    }
    expect(before).toEqual(frozen);
  });

  it('an anchor not set yet stays unset (counting from 0 already counts from before the restore)', () => {
    expect(rewindAnchors(runState(), at(7, 700))).toEqual(runState());
  });
});
