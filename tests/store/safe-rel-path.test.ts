import { describe, expect, it } from 'vitest';
import { isSafeRelPath } from '../../src/store/layout.js';

describe('isSafeRelPath', () => {
  it.each(['a', 'a/b.json', '...', '.a/..b/c..', 'a/.../b', 'cache/shard-0001/item-0000001.json', ' /x', 'a\\..\\b'])('accepts %j', (rel) => {
    expect(isSafeRelPath(rel)).toBe(true);
  });

  it.each(['', '/a', 'a/', 'a//b', '.', '..', './a', '../a', 'a/.', 'a/..', 'a/./b', 'a/../b', 'a\0b', '//'])('refuses %j', (rel) => {
    expect(isSafeRelPath(rel)).toBe(false);
  });
});
