import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { isInside, isInsideRel, joinerUnder } from '../../src/util/paths.js';

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

describe('joinerUnder: path.join(base, rel), the scan\'s plain paths appended', () => {
  const bases = ['/run', '/run/', '/', '/a/./b', '/a/../b/', '//x', 'rel/run', '.', 'a/..', ''];
  const rels = ['f.txt', 'd000/f0001.txt', 'a/b/c', '', '.', '..', './a', '../a', 'a/.', 'a/..', 'a/./b', 'a/../b', '/abs', 'a//b', 'a/', '.hidden', '..x/y', 'x..', 'a/.b/..c'];
  it.each(bases)('gives exactly what path.join gives under %j', (base) => {
    const join = joinerUnder(base);
    for (const rel of rels) expect(join(rel), `${base} + ${rel}`).toBe(path.join(base, rel));
  });
});
