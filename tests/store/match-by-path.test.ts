import { describe, expect, it } from 'vitest';
import { matchByPath } from '../../src/store/match-by-path.js';

const p = (...paths: string[]): { path: string; n: number }[] => paths.map((path, n) => ({ path, n }));
const names = (got: ({ path: string; n: number } | null)[]): (string | null)[] => got.map((g) => (g === null ? null : `${g.path}#${g.n}`));

describe('matchByPath', () => {
  it('pairs sorted lists side by side: files added, removed and kept', () => {
    const have = p('a', 'b/x', 'b/y', 'd');
    expect(names(matchByPath(have, p('0', 'a', 'b/y', 'c', 'd', 'e')))).toEqual([null, 'a#0', 'b/y#2', null, 'd#3', null]);
  });

  it('gives the same pairs when either list is out of order, or holds a path twice (the last one)', () => {
    expect(names(matchByPath(p('d', 'a', 'b'), p('a', 'b', 'c', 'd')))).toEqual(['a#1', 'b#2', null, 'd#0']);
    expect(names(matchByPath(p('a', 'b', 'd'), p('d', 'c', 'a')))).toEqual(['d#2', null, 'a#0']);
    expect(names(matchByPath(p('a', 'b', 'b', 'c'), p('a', 'b', 'c')))).toEqual(['a#0', 'b#2', 'c#3']);
  });

  it('pairs nothing from an empty list, and nothing for an empty list', () => {
    expect(matchByPath([], p('a', 'b'))).toEqual([null, null]);
    expect(matchByPath(p('a'), [])).toEqual([]);
  });
});
