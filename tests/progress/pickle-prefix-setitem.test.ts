/**
 * The never-execute pickle reader on a dict of one item, which CPython pickles with SETITEM (not
 * SETITEMS): DeepFaceLab's Quick96 `options` is `{'batch_size': 4}`.
 */
import { expect, it } from 'vitest';
import { readPicklePrefix } from '../../src/progress/pickle-prefix.js';

/** `pickle.dumps({'options': {'batch_size': 4}, 'iter': 40}, protocol=2)`, CPython 3.11. */
const ONE_ITEM_DICT = Buffer.from('80027d71002858070000006f7074696f6e7371017d7102580a00000062617463685f73697a6571034b047358040000006974657271044b28752e', 'hex');

it('reads a one-item dict (SETITEM) inside a dict and goes on', () => {
  const read = readPicklePrefix(ONE_ITEM_DICT);
  expect(read.stoppedBy).toBe('stop');
  expect(read.complete).toBe(true);
  expect({ ...(read.value as object) }).toEqual({ options: Object.assign(Object.create(null), { batch_size: 4 }), iter: 40 });
});
