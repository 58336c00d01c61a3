/**
 * Small text helpers for the reasons and triggers the policy core returns. Pure.
 */
import type { Every } from './types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * `n` followed by `word`, pluralized with a trailing `s` unless `n` is exactly 1:
 * `plural(1, 'epoch')` → `1 epoch`, `plural(3, 'change')` → `3 changes`.
 */
export function plural(n: number, word: string): string {
  return `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * A progress value for people and file names: integers as they are, fractions with at most four
 * decimals and no trailing zeros (`2.5`, `0.3333`). Non-finite values print as `?`.
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (Number.isInteger(n)) return String(n);
  // Hugging Face epochs are step/steps_per_epoch, so float noise (2.4999999999999996) is common.
  return String(Number(n.toFixed(4)));
}

/**
 * A duration for people, whole seconds rounded down, the two largest units shown:
 * `45s`, `12m 3s`, `2h 0m`, `3d 4h`. Negative durations print as `0s`.
 */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / SECOND));
  const parts: [number, string][] = [];
  for (const [unit, label] of [
    [DAY / SECOND, 'd'],
    [HOUR / SECOND, 'h'],
    [MINUTE / SECOND, 'm'],
    [1, 's'],
  ] as const) {
    parts.push([Math.floor(s / unit), label]);
    s %= unit;
  }
  const first = parts.findIndex(([v]) => v > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .map(([v, label]) => `${v}${label}`)
    .join(' ');
}

/**
 * A time span as the YAML grammar would write it, in the largest unit that divides it exactly:
 * `30 minutes`, `2 hours`, `90 seconds`, `1500ms`.
 */
export function formatSpan(ms: number): string {
  if (ms > 0 && ms % HOUR === 0) return plural(ms / HOUR, 'hour');
  if (ms > 0 && ms % MINUTE === 0) return plural(ms / MINUTE, 'minute');
  if (ms > 0 && ms % SECOND === 0) return plural(ms / SECOND, 'second');
  return `${ms}ms`;
}

/**
 * The short trigger text of an `every` rule: `every 2 epochs`, `every 500 steps`, `every 3 changes`,
 * `every change` (n = 1, i.e. `always`), `every 30 minutes`, `never`.
 */
export function formatEvery(every: Every): string {
  switch (every.unit) {
    case 'never':
      return 'never';
    case 'changes':
      return every.n === 1 ? 'every change' : `every ${plural(every.n, 'change')}`;
    case 'epochs':
      return `every ${plural(every.n, 'epoch')}`;
    case 'steps':
      return `every ${plural(every.n, 'step')}`;
    case 'time':
      return `every ${formatSpan(every.ms)}`;
  }
}

/** The trigger text of a cron rule: `cron 0 *\/2 * * *`. */
export function formatCron(expr: string): string {
  return `cron ${expr}`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** `1234567` → `1.2 MB` (powers of 1000, like `df -H` and disk vendors). */
export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}
