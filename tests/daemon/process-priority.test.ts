import { describe, expect, it } from 'vitest';
import { priorityMismatch } from '../../src/daemon/process-priority.js';
import type { Priority } from '../../src/policy/process-priority.js';

describe('priorityMismatch', () => {
  it.each<[Priority, number | null, RegExp | null]>([
    ['low', 10, null],
    ['low', 15, null],
    ['low', 0, /runs at nice 0, not at priority low.*restart it/],
    ['normal', 0, null],
    ['normal', 10, /still runs at nice 10 though priority: normal.*CAP_SYS_NICE/],
    ['low', null, null],
  ])('wanted %s, running at nice %s', (wanted, nice, expected) => {
    const got = priorityMismatch(wanted, { nice, io: null });
    if (expected === null) expect(got).toBeNull();
    else expect(got).toMatch(expected);
  });
});
