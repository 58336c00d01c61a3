/**
 * Parsers for the unit grammar of SPEC section 3: durations (`500ms`, `30s`, `10 minutes`),
 * sizes (`500MB`, `20GiB`), rates (`50MB/s`) and the `every` grammar (`3 epochs`, `2 hours`, `always`, `never`).
 * Each returns the value or a message that says what was expected; none of them throws.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Every } from '../policy/types.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const DAY_MS = 86_400_000;

/** The longest a duration may be, and how a message says it. */
export interface DurationLimit {
  maxMs: number;
  /** E.g. `3650 days (10 years)`: what "the most is ..." says. */
  text: string;
}

/**
 * The longest any duration or time schedule may be: 10 years. Anything longer is a typo, and
 * `1e20 hours` is past what millisecond arithmetic on dates can hold.
 */
export const ANY_LIMIT: DurationLimit = { maxMs: 3650 * DAY_MS, text: '3650 days (10 years)' };

/**
 * The longest duration used directly as one timer (`settle`). Node's timers hold at most 2^31-1 ms
 * (about 24.8 days); a longer one fires after 1 ms, which made `settle: 30 days` a hot loop. Whole
 * days below that, so the waits added to it (the final settle of `ckptd run`) stay under it too.
 */
export const TIMER_LIMIT: DurationLimit = { maxMs: 24 * DAY_MS, text: '24 days (a timer cannot wait longer)' };

/** The largest count (`N epochs`, `N steps`, `N changes`) or size in bytes: exact in a JS number. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER;

const TIME_UNITS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

const COUNT_UNITS: Record<string, 'epochs' | 'steps' | 'changes'> = {
  epoch: 'epochs',
  epochs: 'epochs',
  step: 'steps',
  steps: 'steps',
  change: 'changes',
  changes: 'changes',
};

const NUMBER_AND_UNIT = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$/;

function show(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  return typeof value === 'string' ? `"${value}"` : String(value);
}

/**
 * `30s`, `10 minutes`, `500ms`, `2h` → milliseconds. A bare number is refused (the unit is
 * ambiguous), and so is anything longer than `limit` (default `ANY_LIMIT`), with the most it takes.
 */
export function parseDuration(value: unknown, limit: DurationLimit = ANY_LIMIT): Parsed<number> {
  const bad: Parsed<number> = {
    ok: false,
    message: `${show(value)} is not a duration; write a number and a unit, e.g. 500ms, 30s, 10 minutes, 2h`,
  };
  if (typeof value !== 'string') return bad;
  const m = NUMBER_AND_UNIT.exec(value.trim());
  if (!m) return bad;
  const factor = TIME_UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return bad;
  return withinLimit(value, Math.round(Number(m[1]) * factor), limit);
}

function withinLimit(value: string, ms: number, limit: DurationLimit): Parsed<number> {
  // Not finite covers a number too long to read (hundreds of digits).
  if (!Number.isFinite(ms) || ms > limit.maxMs) return { ok: false, message: `${show(value)} is too long; the most is ${limit.text}` };
  return { ok: true, value: ms };
}

/** `500MB`, `20GiB`, `0` → bytes. Decimal units are powers of 1000, binary ones of 1024. */
export function parseSize(value: unknown): Parsed<number> {
  const bad: Parsed<number> = {
    ok: false,
    message: `${show(value)} is not a size; write a number and a unit, e.g. 500MB, 20GiB (or 0)`,
  };
  if (value === 0 || value === '0') return { ok: true, value: 0 };
  if (typeof value !== 'string') return bad;
  const bytes = bytesOf(value);
  if (bytes === null) return bad;
  if (!(bytes <= MAX_EXACT)) return { ok: false, message: `${show(value)} is too large; a size must be under 8PiB` };
  return { ok: true, value: bytes };
}

/** The bytes `500MB` or `20 GiB` says (possibly past `MAX_EXACT`), or null when it is not a number and a size unit. */
function bytesOf(text: string): number | null {
  const m = NUMBER_AND_UNIT.exec(text.trim());
  if (!m) return null;
  const factor = SIZE_UNITS[m[2]!.toLowerCase()];
  return factor === undefined ? null : Math.round(Number(m[1]) * factor);
}

/**
 * `50MB/s`, `10 MiB/s`, `1GB/sec` → bytes per second: a size in the units of `parseSize` per
 * second. A rate is at least 1 byte per second (there is no "0 = off"); a bare number is refused.
 */
export function parseRate(value: unknown): Parsed<number> {
  const bad: Parsed<number> = {
    ok: false,
    message: `${show(value)} is not a rate; write a size per second, e.g. 50MB/s, 10MiB/s`,
  };
  if (typeof value !== 'string') return bad;
  const m = /^(.*?)\s*\/\s*(?:s|sec|second)$/i.exec(value.trim());
  const bytes = m ? bytesOf(m[1]!) : null;
  if (bytes === null) return bad;
  if (!(bytes <= MAX_EXACT)) return { ok: false, message: `${show(value)} is too large; a rate must be under 8PiB/s` };
  if (bytes < 1) return { ok: false, message: `${show(value)} is too slow; a rate must be at least 1B/s` };
  return { ok: true, value: bytes };
}

/**
 * The `every` grammar: `N epochs | N steps | N changes | N seconds/minutes/hours (or 30s, 10m) |
 * always | never`. `always` is `1 changes`. Counts are whole numbers from 1 to 2^53-1; times are
 * from 1 second to `ANY_LIMIT` (longer than a timer: the supervisor re-arms capped timers).
 */
export function parseEvery(value: unknown): Parsed<Every> {
  const grammar = 'N epochs, N steps, N changes, a duration such as 30 minutes, always, or never';
  if (value === null || value === false) return { ok: true, value: { unit: 'never' } };
  if (typeof value === 'number') {
    return { ok: false, message: `${value} needs a unit: write e.g. "${value} epochs" or "${value} minutes" (${grammar})` };
  }
  if (typeof value !== 'string') return { ok: false, message: `${show(value)} is not a schedule; write ${grammar}` };
  const text = value.trim().toLowerCase();
  if (text === 'never') return { ok: true, value: { unit: 'never' } };
  if (text === 'always') return { ok: true, value: { unit: 'changes', n: 1 } };
  const m = NUMBER_AND_UNIT.exec(text);
  if (!m) return { ok: false, message: `${show(value)} is not a schedule; write ${grammar}` };
  const n = Number(m[1]);
  const unit = m[2]!;
  const count = COUNT_UNITS[unit];
  if (count !== undefined) {
    if (!(n <= MAX_EXACT)) return { ok: false, message: `${show(value)}: the count must be at most ${MAX_EXACT}` };
    if (!Number.isInteger(n) || n < 1) {
      return { ok: false, message: `${show(value)}: the count must be a whole number of at least 1 (use "never" to turn this off)` };
    }
    return { ok: true, value: { unit: count, n } };
  }
  if (TIME_UNITS[unit] !== undefined) {
    const ms = Math.round(n * TIME_UNITS[unit]);
    if (ms < 1000) return { ok: false, message: `${show(value)} is too often; the shortest interval is 1 second (use "always" for every change)` };
    // Longer than a timer is fine here: the run supervisor re-arms capped timers.
    const within = withinLimit(value, ms, ANY_LIMIT);
    return within.ok ? { ok: true, value: { unit: 'time', ms } } : within;
  }
  const near = closest(unit, ['epochs', 'steps', 'changes', 'seconds', 'minutes', 'hours', 'days']);
  const hint = distance(unit, near) <= 2 ? ` (did you mean "${m[1]} ${near}"?)` : '';
  return { ok: false, message: `${show(value)}: unknown unit "${unit}"${hint}; write ${grammar}` };
}
