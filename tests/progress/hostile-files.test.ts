/**
 * Files the trainer (or anyone) leaves in the run are parsed on the daemon's thread: a crafted one
 * must cost time and memory in proportion to its size, never its size squared (a file of a few MB
 * held the daemon for hours), nor overflow the stack. Each input here took minutes to hours, or
 * threw "Maximum call stack size exceeded", before.
 */
import { describe, expect, it } from 'vitest';
import { parseDflSummary } from '../../src/progress/dfl-summary.js';
import { parseJson } from '../../src/progress/parse-document.js';
import { readPicklePrefix } from '../../src/progress/pickle-prefix.js';

const MiB = 1 << 20;

describe('crafted files the progress readers parse', () => {
  it('JSON with NaN and a megabyte of quotes and backslashes', () => {
    expect(parseJson(`{"loss": NaN, "x": ${'"\\\\'.repeat(MiB / 2)}`)).toBeUndefined();
    // What the lenient pass is for still works, and leaves tokens inside strings alone.
    expect(parseJson('{"loss": NaN, "best": -Infinity, "note": "NaN \\" Infinity"}')).toEqual({ loss: null, best: null, note: 'NaN " Infinity' });
  });

  it('a DeepFaceLab summary row a megabyte long', () => {
    expect(parseDflSummary(`==x: ${' '.repeat(MiB)}x\n== Iteration: 12 ==\n`)?.iteration ?? null).toBeNull();
  });

  it('a pickle LONG4 of a megabyte, and APPENDS of a million items', () => {
    const long = Buffer.concat([Buffer.from([0x80, 0x02, 0x8b]), Buffer.from([0, 0, 0x10, 0]), Buffer.alloc(MiB, 0x7f), Buffer.from('.')]);
    expect(typeof readPicklePrefix(long).value).toBe('bigint');
    const appends = Buffer.concat([Buffer.from([0x80, 0x02, 0x5d, 0x28]), Buffer.alloc(MiB, 0x4e), Buffer.from([0x65, 0x2e])]);
    expect((readPicklePrefix(appends).value as unknown[]).length).toBe(MiB);
    // Cut before its end: salvaged, not thrown.
    const cut = Buffer.concat([Buffer.from([0x80, 0x02, 0x5d, 0x28]), Buffer.alloc(MiB, 0x4e)]);
    expect(() => readPicklePrefix(cut)).not.toThrow();
  });
});
