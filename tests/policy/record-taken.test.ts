import { describe, expect, it } from 'vitest';
import { recordTaken } from '../../src/policy/decide.js';
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
