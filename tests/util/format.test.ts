/** How progress reads in a log line: "backup ID taken (every change) with no progress known", never "at no progress known". */
import { describe, expect, it } from 'vitest';
import { atProgress, formatProgress } from '../../src/util/format.js';

describe('atProgress', () => {
  it('says "at" what is known, and "with no progress known" when nothing is', () => {
    expect(atProgress({ epoch: 3, step: 1200, loss: 0.4123 })).toBe('at epoch 3, step 1200, loss 0.4123');
    expect(atProgress({ epoch: null, step: 40, loss: null })).toBe('at step 40');
    expect(atProgress({ epoch: null, step: null, loss: null })).toBe('with no progress known');
    expect(formatProgress({ epoch: null, step: null, loss: null })).toBe('no progress known');
  });
});
