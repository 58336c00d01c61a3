/**
 * The `retention` section. Contract: keep counts default to 0 (`keep_best` to mode min, count 1);
 * `max_size` is a size in bytes or null (no limit); `min_free` a size (default 1GiB, null: 0);
 * `min_age` a duration in ms (default 1h, null: 0). A bad size or duration is reported at its key
 * and replaced by its fallback. Two functions, because `min_age` is checked after the schedules'
 * cron and save files (see `normalize-run.ts`), and problems come out in the order found.
 */
import type { RawRun } from './schema.js';
import { DEFAULTS } from './defaults.js';
import { valueOr, type Report } from './problems.js';
import type { KeepBest, RunConfig } from './types.js';
import { parseDuration, parseSize } from './units.js';
import type { KeyPath } from './yaml-positions.js';

type RawRetention = NonNullable<RawRun['retention']>;

/** Everything of the retention section but `minAgeMs`: what to keep and the size limits. */
export function retentionLimits(r: RawRetention, at: KeyPath, report: Report): Omit<RunConfig['retention'], 'minAgeMs'> {
  let keepBest: KeepBest | null = null;
  if (r.keep_best) keepBest = { metric: r.keep_best.metric, mode: r.keep_best.mode ?? 'min', count: r.keep_best.count ?? 1 };
  const maxSizeBytes = r.max_size === null || r.max_size === undefined ? null : valueOr(parseSize(r.max_size), [...at, 'max_size'], report, null);
  const minFreeBytes = r.min_free === null ? 0 : valueOr(parseSize(r.min_free ?? DEFAULTS.minFree), [...at, 'min_free'], report, 0);
  return {
    keepBest,
    keepHourly: r.keep_hourly ?? 0,
    keepDaily: r.keep_daily ?? 0,
    keepWeekly: r.keep_weekly ?? 0,
    maxSizeBytes,
    minFreeBytes,
  };
}

/** How old a snapshot must be before retention may delete it, in ms. */
export function retentionMinAgeMs(r: RawRetention, at: KeyPath, report: Report): number {
  return r.min_age === null ? 0 : valueOr(parseDuration(r.min_age ?? DEFAULTS.minAge), [...at, 'min_age'], report, 3_600_000);
}
