/**
 * The failing-backups warning of `ckptd status` and the panel names what failed, often a run file
 * whose name its writer chose: a newline in it must not forge a line of the output, an escape
 * sequence must not drive the terminal.
 */
import { describe, expect, it } from 'vitest';
import { describeFailing } from '../../src/client/failing.js';

describe('the failing-backups warning', () => {
  it('says since when, how often and when next, and prints a file name with control characters escaped', () => {
    const now = Date.parse('2026-12-02T10:05:00.000Z');
    const text = describeFailing(
      {
        since: '2026-12-02T10:00:00.000Z',
        at: '2026-12-02T10:04:50.000Z',
        attempts: 3,
        kind: 'error',
        message: 'cannot read /run/evil\nwarning: all good\u001b[32m.bin: permission denied',
        retrying_at: '2026-12-02T10:05:20.000Z',
      },
      now,
    );
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(text).toContain('evil\\x0awarning: all good\\x1b[32m.bin');
    expect(text).toMatch(/^backups failing since 2026-12-02T10:00:00.000Z \(.*3 attempts.*\): cannot read .*; retrying every 30 s \(next in 20 s\)$/);
  });
});
