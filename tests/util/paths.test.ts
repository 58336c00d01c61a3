import { describe, expect, it } from 'vitest';
import { isInside, isInsideRel } from '../../src/util/paths.js';

describe('isInside (absolute paths)', () => {
  it.each([
    ['/a/b', '/a', true],
    ['/a/b/c', '/a', true],
    ['/a', '/a', true],
    ['/a/', '/a', true],
    ['/a', '/a/', true],
    ['/a/b/', '/a/', true],
    ['/ab', '/a', false],
    ['/a', '/a/b', false],
    ['/b', '/a', false],
    ['/a/../b', '/a', false],
    ['/a/b/..', '/a', true],
    ['/a/..x', '/a', true],
    ['/a/...', '/a', true],
    ['/', '/', true],
    ['/x', '/', true],
    ['/', '/x', false],
    ['/tmpfoo/b', '/tmp', false],
    ['/tmp/x/run', '/tmp', true],
  ])('%s inside %s: %s', (child, parent, want) => {
    expect(isInside(child, parent)).toBe(want);
  });

  it('resolves relative paths against the working folder', () => {
    expect(isInside('sub/dir', '.')).toBe(true);
    expect(isInside(process.cwd(), 'sub')).toBe(false);
  });
});

describe('isInsideRel (relative POSIX paths in a run)', () => {
  it.each([
    ['a/config.json', 'a', true],
    ['a/b/config.json', 'a', true],
    ['a', 'a', true],
    ['ab/config.json', 'a', false],
    ['config.json', 'a', false],
    ['a/config.json', 'a/', true],
    ['config.json', '.', true],
    ['a/b', '', true],
    ['a/b', 'a/b/c', false],
  ])('%s inside %s: %s', (rel, dir, want) => {
    expect(isInsideRel(rel, dir)).toBe(want);
  });
});
