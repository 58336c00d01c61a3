/**
 * Parsers for the unit grammar of SPEC section 3: durations (`500ms`, `30s`, `10 minutes`),
 * sizes (`500MB`, `20GiB`) and the `every` grammar (`3 epochs`, `2 hours`, `always`, `never`).
 * Each returns the value or a message that says what was expected; none of them throws.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Every } from '../policy/types.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

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
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
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
  return typeof value === 'string' ? `"${value}"` : String(value);
}

/** `30s`, `10 minutes`, `500ms`, `2h` → milliseconds. A bare number is refused (the unit is ambiguous). */
export function parseDuration(value: unknown): Parsed<number> {
  const bad: Parsed<number> = {
    ok: false,
    message: `${show(value)} is not a duration; write a number and a unit, e.g. 500ms, 30s, 10 minutes, 2h`,
  };
  if (typeof value !== 'string') return bad;
  const m = NUMBER_AND_UNIT.exec(value.trim());
  if (!m) return bad;
  const factor = TIME_UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return bad;
  return { ok: true, value: Math.round(Number(m[1]) * factor) };
}

/** `500MB`, `20GiB`, `0` → bytes. Decimal units are powers of 1000, binary ones of 1024. */
export function parseSize(value: unknown): Parsed<number> {
  const bad: Parsed<number> = {
    ok: false,
    message: `${show(value)} is not a size; write a number and a unit, e.g. 500MB, 20GiB (or 0)`,
  };
  if (value === 0 || value === '0') return { ok: true, value: 0 };
  if (typeof value !== 'string') return bad;
  const m = NUMBER_AND_UNIT.exec(value.trim());
  if (!m) return bad;
  const factor = SIZE_UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return bad;
  return { ok: true, value: Math.round(Number(m[1]) * factor) };
}

/**
 * The `every` grammar: `N epochs | N steps | N changes | N seconds/minutes/hours (or 30s, 10m) |
 * always | never`. `always` is `1 changes`.
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
    if (!Number.isInteger(n) || n < 1) {
      return { ok: false, message: `${show(value)}: the count must be a whole number of at least 1 (use "never" to turn this off)` };
    }
    return { ok: true, value: { unit: count, n } };
  }
  if (TIME_UNITS[unit] !== undefined) {
    const ms = Math.round(n * TIME_UNITS[unit]);
    if (ms < 1000) return { ok: false, message: `${show(value)} is too often; the shortest interval is 1 second (use "always" for every change)` };
    return { ok: true, value: { unit: 'time', ms } };
  }
  const near = closest(unit, ['epochs', 'steps', 'changes', 'seconds', 'minutes', 'hours', 'days']);
  const hint = distance(unit, near) <= 2 ? ` (did you mean "${m[1]} ${near}"?)` : '';
  return { ok: false, message: `${show(value)}: unknown unit "${unit}"${hint}; write ${grammar}` };
}
