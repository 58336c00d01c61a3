/**
 * The `retention` section, and the rule keys a remote's `keep` shares with it. Contract: keep
 * counts default to 0 (`keep_best` to mode min, count 1); `max_size` is a size in bytes or null
 * (no limit); `min_free` a size (default 1GiB, null: 0); `min_age` a duration in ms (default 1h,
 * null: 0). A bad size or duration is reported at its key and replaced by its fallback. Separate
 * functions, because `min_age` is checked after the schedules' cron and save files (see
 * `normalize-run.ts`), problems come out in the order found, and a remote has no `min_free`.
 */
import type { RawRun } from './schema.js';
import { DEFAULTS } from './defaults.js';
import { valueOr, type Report } from './problems.js';
import type { KeepBest, KeepRules, RunConfig } from './types.js';
import { parseDuration, parseSize } from './units.js';
import type { KeyPath } from './yaml-positions.js';

type RawRetention = NonNullable<RawRun['retention']>;

/** The rule keys the local `retention` and a remote's `keep` both have, as the YAML says them. */
export type RawKeepRules = Omit<RawRetention, 'min_free'>;

/** What to keep and the size cap: every rule of `KeepRules` but `minAgeMs`. */
export function keepRules(r: RawKeepRules, at: KeyPath, report: Report): Omit<KeepRules, 'minAgeMs'> {
  let keepBest: KeepBest | null = null;
  if (r.keep_best) keepBest = { metric: r.keep_best.metric, mode: r.keep_best.mode ?? 'min', count: r.keep_best.count ?? 1 };
  const maxSizeBytes = r.max_size === null || r.max_size === undefined ? null : valueOr(parseSize(r.max_size), [...at, 'max_size'], report, null);
  return {
    keepBest,
    keepHourly: r.keep_hourly ?? 0,
    keepDaily: r.keep_daily ?? 0,
    keepWeekly: r.keep_weekly ?? 0,
    maxSizeBytes,
  };
}

/** Everything of the retention section but `minAgeMs`: what to keep and the size limits. */
export function retentionLimits(r: RawRetention, at: KeyPath, report: Report): Omit<RunConfig['retention'], 'minAgeMs'> {
  const rules = keepRules(r, at, report);
  const minFreeBytes = r.min_free === null ? 0 : valueOr(parseSize(r.min_free ?? DEFAULTS.minFree), [...at, 'min_free'], report, 0);
  return { ...rules, minFreeBytes };
}

/** How old a snapshot must be before retention may delete it, in ms. */
export function retentionMinAgeMs(r: Pick<RawKeepRules, 'min_age'>, at: KeyPath, report: Report): number {
  return r.min_age === null ? 0 : valueOr(parseDuration(r.min_age ?? DEFAULTS.minAge), [...at, 'min_age'], report, 3_600_000);
}
