import { describe, expect, it } from 'vitest';
import { bucket, crosses, nextMultiple } from '../../src/policy/crossing.js';
import { formatDuration, formatEvery, formatNumber } from '../../src/policy/format.js';
import type { Every } from '../../src/policy/types.js';

describe('crosses', () => {
  it.each([
    [9, 10, 10, true],
    [7, 23, 5, true],
    [10, 19, 10, false],
    [0, 0, 1, false],
    [6, 7, 2, false],
    [6, 8, 2, true],
    [2.5, 2.9, 1, false],
    [2.5, 3, 1, true],
    [0, 2.9999999999999996, 3, true],
    [12, 3, 5, false],
  ] as const)('%d → %d with n=%d: %s', (anchor, cur, n, want) => {
    expect(crosses(anchor, cur, n)).toBe(want);
  });

  it('nextMultiple and bucket agree', () => {
    expect([bucket(9, 10), bucket(10, 10), nextMultiple(9, 10), nextMultiple(10, 10), nextMultiple(0, 3)]).toEqual([0, 1, 10, 20, 3]);
  });
});

describe('format', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [45_000, '45s'],
    [12 * 60_000 + 3000, '12m 3s'],
    [2 * 3_600_000, '2h 0m'],
    [2 * 3_600_000 + 5000, '2h 0m'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d 4h'],
    [-5, '0s'],
  ])('formatDuration(%d) = %s', (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });

  it.each([
    [{ unit: 'never' }, 'never'],
    [{ unit: 'changes', n: 1 }, 'every change'],
    [{ unit: 'changes', n: 3 }, 'every 3 changes'],
    [{ unit: 'epochs', n: 1 }, 'every 1 epoch'],
    [{ unit: 'steps', n: 500 }, 'every 500 steps'],
    [{ unit: 'time', ms: 30 * 60_000 }, 'every 30 minutes'],
    [{ unit: 'time', ms: 2 * 3_600_000 }, 'every 2 hours'],
    [{ unit: 'time', ms: 90_000 }, 'every 90 seconds'],
    [{ unit: 'time', ms: 1500 }, 'every 1500ms'],
  ] as [Every, string][])('formatEvery(%j) = %s', (e, want) => {
    expect(formatEvery(e)).toBe(want);
  });

  it.each([
    [3, '3'],
    [2.5, '2.5'],
    [1 / 3, '0.3333'],
    [Number.POSITIVE_INFINITY, '?'],
  ])('formatNumber(%d) = %s', (n, want) => {
    expect(formatNumber(n)).toBe(want);
  });
});
