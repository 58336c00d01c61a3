import { describe, expect, it } from 'vitest';
import { priorityMismatch } from '../../src/daemon/process-priority.js';
import type { Priority } from '../../src/policy/process-priority.js';

describe('priorityMismatch', () => {
  it.each<[Priority, number | null, RegExp | null]>([
    ['low', 19, null],
    ['low', 10, /runs at nice 10, not at priority low \(nice 19\)/],
    ['low', 0, /runs at nice 0, not at priority low.*restart it/],
    ['normal', 0, null],
    ['normal', 19, /still runs at nice 19 though priority: normal.*CAP_SYS_NICE/],
    ['low', null, null],
  ])('wanted %s, running at nice %s', (wanted, nice, expected) => {
    const got = priorityMismatch(wanted, { nice, io: null });
    if (expected === null) expect(got).toBeNull();
    else expect(got).toMatch(expected);
  });
});
