import { describe, expect, it } from 'vitest';
import { parseDuration, parseEvery, parseRate, parseSize, TIMER_LIMIT } from '../../src/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['30 seconds', 30_000],
    ['10 minutes', 600_000],
    ['2 hours', 7_200_000],
    ['1.5s', 1500],
    [' 2s ', 2000],
  ])('%s -> %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each([[30], ['30'], ['thirty seconds'], ['10 parsecs'], [''], [null], ['-5s']])('refuses %j with an example', (value) => {
    const r = parseDuration(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/e\.g\. 500ms, 30s/);
  });

  it('refuses what no timer or clock can hold, saying the most it takes', () => {
    const huge = parseDuration('100000000000000000000 hours');
    expect(huge).toEqual({ ok: false, message: expect.stringMatching(/too long.*the most is 3650 days/) });
    const endless = parseDuration(`${'9'.repeat(400)}ms`);
    expect(endless.ok).toBe(false);
    expect(parseDuration('3650 days')).toEqual({ ok: true, value: 3650 * 86_400_000 });
  });

  it('refuses a duration past a timer where it is used as one (settle: 30 days made a 1 ms loop)', () => {
    const r = parseDuration('30 days', TIMER_LIMIT);
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/"30 days" is too long.*the most is 24 days/) });
    expect(parseDuration('24 days', TIMER_LIMIT)).toEqual({ ok: true, value: 24 * 86_400_000 });
    expect(TIMER_LIMIT.maxMs + 60_000).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

describe('parseSize', () => {
  it.each([
    ['500MB', 500e6],
    ['20GiB', 20 * 2 ** 30],
    ['1gb', 1e9],
    ['64KiB', 65536],
    ['0', 0],
    [0, 0],
    ['1.5TB', 1.5e12],
    // The limit is worded in PiB ("under 8PiB"), so PB and PiB are units too.
    ['2PB', 2e15],
    ['7.5PiB', 7.5 * 2 ** 50],
  ])('%s -> %i bytes', (text, bytes) => {
    expect(parseSize(text)).toEqual({ ok: true, value: bytes });
  });

  it.each([['20 gigs'], [1024], ['GiB'], ['lots'], ['10000TiB'], [`${'9'.repeat(400)}B`]])('refuses %j', (value) => {
    expect(parseSize(value).ok).toBe(false);
  });

  it('refuses 8PiB as too large, the limit its message names', () => {
    expect(parseSize('8PiB')).toEqual({ ok: false, message: '"8PiB" is too large; a size must be under 8PiB' });
  });
});

describe('parseRate', () => {
  it.each([
    ['50MB/s', 50e6],
    ['10 MiB/s', 10 * 2 ** 20],
    ['1gb/sec', 1e9],
    ['1.5 KB / second', 1500],
    ['1B/s', 1],
  ])('%s -> %i bytes per second', (text, rate) => {
    expect(parseRate(text)).toEqual({ ok: true, value: rate });
  });

  it.each<[unknown, RegExp]>([
    ['50MB', /"50MB" is not a rate; write a size per second, e\.g\. 50MB\/s/],
    [50, /50 is not a rate/],
    ['0/s', /not a rate/],
    ['50 parsecs/s', /not a rate/],
    ['50MB/h', /not a rate/],
    [null, /null is not a rate/],
    ['0MB/s', /"0MB\/s" is too slow; a rate must be at least 1B\/s/],
    ['0.1B/s', /too slow/],
    ['10000TiB/s', /"10000TiB\/s" is too large; a rate must be under 8PiB\/s/],
  ])('refuses %j, saying why', (value, message) => {
    const r = parseRate(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});

describe('parseEvery', () => {
  it.each([
    ['3 epochs', { unit: 'epochs', n: 3 }],
    ['1 epoch', { unit: 'epochs', n: 1 }],
    ['500 steps', { unit: 'steps', n: 500 }],
    ['4 changes', { unit: 'changes', n: 4 }],
    ['always', { unit: 'changes', n: 1 }],
    ['never', { unit: 'never' }],
    [null, { unit: 'never' }],
    [false, { unit: 'never' }],
    ['30 minutes', { unit: 'time', ms: 1_800_000 }],
    ['45 seconds', { unit: 'time', ms: 45_000 }],
    ['2 hours', { unit: 'time', ms: 7_200_000 }],
    ['10m', { unit: 'time', ms: 600_000 }],
    ['Always', { unit: 'changes', n: 1 }],
    ['30 days', { unit: 'time', ms: 30 * 86_400_000 }],
    ['9007199254740991 steps', { unit: 'steps', n: 9007199254740991 }],
  ])('%j -> %j', (text, every) => {
    expect(parseEvery(text)).toEqual({ ok: true, value: every });
  });

  it.each([
    [3, /needs a unit.*"3 epochs"/],
    ['2 epocs', /unknown unit "epocs" \(did you mean "2 epochs"\?\)/],
    ['0 epochs', /at least 1.*never/],
    ['1.5 steps', /whole number/],
    ['500ms', /too often/],
    ['sometimes', /not a schedule/],
    ['100000000000000000000 hours', /too long.*the most is 3650 days/],
    ['3651 days', /too long.*the most is 3650 days/],
    ['99999999999999999999 epochs', /at most 9007199254740991/],
    [`${'9'.repeat(400)} steps`, /at most 9007199254740991/],
  ])('refuses %j with a message that says why', (value, message) => {
    const r = parseEvery(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});
