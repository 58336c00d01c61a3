import { describe, expect, it } from 'vitest';
import { getPath, parseKeyPath } from '../../src/policy/key-path.js';

const DOC = {
  state: { epoch: 3, nested: { deep: [10, 20, { x: 'y' }] } },
  log_history: [{ loss: 2.5 }, { loss: 1.5 }, { eval_loss: 1.2 }],
  'a.b': { c: 1 },
  '0': 'zero-key',
  matrix: [
    [1, 2],
    [3, 4],
  ],
};

describe('getPath', () => {
  it.each([
    ['state.epoch', 3],
    ['log_history[0].loss', 2.5],
    ['log_history[-1].eval_loss', 1.2],
    ['log_history[-2].loss', 1.5],
    ['log_history.1.loss', 1.5],
    ['state.nested.deep[2].x', 'y'],
    ['state.nested.deep[-3]', 10],
    ['matrix[1][0]', 3],
    ['matrix[-1][-1]', 4],
    ['["a.b"].c', 1],
    ["['a.b'].c", 1],
    ['[0]', 'zero-key'],
    ['state', DOC.state],
  ])('%s', (path, expected) => {
    expect(getPath(DOC, path)).toEqual(expected);
  });

  it.each([
    'missing',
    'state.missing.deeper',
    'log_history[3]',
    'log_history[-4]',
    'log_history[0].loss.more',
    'state.epoch.x',
    'log_history.loss',
    'state[0]',
    'a.b.c',
    'constructor',
    'state.toString',
  ])('%s is undefined', (path) => {
    expect(getPath(DOC, path)).toBeUndefined();
  });

  const HISTORY = [
    { epoch: 1, train_loss: 0.9 },
    { epoch: 2, train_loss: 0.7 },
  ];
  it.each([
    ['$[-1].epoch', HISTORY, 2],
    ['$[0].train_loss', HISTORY, 0.9],
    ['[-1].epoch', HISTORY, 2],
    ['$', HISTORY, HISTORY],
    ['$.history[-1].epoch', { history: HISTORY }, 2],
    ['history[-1].epoch', { history: HISTORY }, 2],
    ['$["history"][-1].epoch', { history: HISTORY }, 2],
    ['["$"].epoch', { $: { epoch: 5 } }, 5],
    ['$x', { $x: 6 }, 6],
  ])('reads %s from the document given (a leading $ is the document)', (path, doc, expected) => {
    expect(getPath(doc, path)).toEqual(expected);
  });

  it('walks into top-level arrays and scalars', () => {
    expect(getPath([1, 2, 3], '[-1]')).toBe(3);
    expect(getPath(5, 'a')).toBeUndefined();
    expect(getPath(null, 'a')).toBeUndefined();
  });

  it.each(['', 'a..b', '.a', 'a.', 'a[', 'a[x]', 'a[1.5]', 'a]', 'a[0]b', 'a["b]', '$.', '$..a', '$[', '$]'])('throws for the malformed path %j', (path) => {
    expect(() => getPath(DOC, path)).toThrow(/bad key path/);
  });
});

describe('parseKeyPath', () => {
  it('splits names, indexes and quoted keys', () => {
    expect(parseKeyPath('log_history[-1].loss')).toEqual([{ key: 'log_history' }, { index: -1 }, { key: 'loss' }]);
    expect(parseKeyPath('a["b.c"][2]')).toEqual([{ key: 'a' }, { key: 'b.c' }, { index: 2 }]);
    expect(parseKeyPath('$[-1].epoch')).toEqual([{ index: -1 }, { key: 'epoch' }]);
    expect(parseKeyPath('$')).toEqual([]);
  });

  it('names the path and the position in its error', () => {
    expect(() => parseKeyPath('a..b')).toThrow('bad key path "a..b" at 3: empty segment');
  });
});
