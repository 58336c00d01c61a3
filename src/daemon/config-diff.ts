/**
 * What an edited config changes for a running run, by structural equality (`isDeepStrictEqual`:
 * key order does not matter, `null` and a missing key differ). Pure: no fs, clock or timer. It
 * lives in `daemon/` because it reads `RunConfig` (`config/`), which `policy/` may not import.
 *
 * Contract:
 * - `describeChanges` lists each changed setting, in a fixed order, as `<key> <old> → <new>` with
 *   both values as JSON; an unchanged config gives `[]`.
 * - `needsRewatch` is true when the watch must start afresh: the run folder, the saves folder (never
 *   watched), the watch mode, the include/exclude globs, or ckptd's own files changed.
 * - `stateRedefined` is true when the run's state is another set of files (the run folder, the
 *   include/exclude globs, or ckptd's own files left out of it changed): only then is the state
 *   already seen judged afresh, against the newest snapshot, instead of counting as seen (a new
 *   saves folder or watch mode changes no file).
 * - `retentionChanged` is true when what local retention keeps may differ: `backup.rolling`,
 *   `backup.keep`, `retention`, `save.keep`. A change of `remote` (its place, what is pushed, its
 *   `keep`, its bandwidth) is described, and changes neither the local watch nor local retention.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '../config/types.js';

/** The settings `describeChanges` reports, in the order it reports them. */
const DESCRIBED: readonly [string, (r: RunConfig) => unknown][] = [
  ['backup.every', (r) => r.backup.everyText],
  ['backup.cron', (r) => r.backup.cron],
  ['backup.keep', (r) => r.backup.keep],
  ['backup.rolling', (r) => r.backup.rolling],
  ['backup.before_save', (r) => r.backup.beforeSave],
  ['save.every', (r) => r.save.everyText],
  ['save.cron', (r) => r.save.cron],
  ['save.prefix', (r) => r.save.prefix],
  ['save.files', (r) => r.save.files],
  ['save.pick', (r) => r.save.pick],
  ['save.to', (r) => r.save.to],
  ['include', (r) => r.include],
  ['exclude', (r) => r.exclude],
  ['settle', (r) => r.settleMs],
  ['watch', (r) => r.watch],
  ['progress', (r) => r.progress],
  ['path', (r) => r.path],
  ['retention', (r) => r.retention],
  ['remote', (r) => r.remote],
];

/** Each changed setting as `<key> <old JSON> → <new JSON>`, in a fixed order. */
export function describeChanges(prev: RunConfig, next: RunConfig): string[] {
  const out: string[] = [];
  for (const [label, get] of DESCRIBED) {
    const a = get(prev);
    const b = get(next);
    if (!isDeepStrictEqual(a, b)) out.push(`${label} ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
  }
  return out;
}

/** True when the run's watch must be set up afresh for `next`. */
export function needsRewatch(prev: RunConfig, next: RunConfig): boolean {
  return stateRedefined(prev, next) || prev.save.to !== next.save.to || prev.watch !== next.watch;
}

/** True when `next` makes the run's state another set of files than `prev` (see the contract above). */
export function stateRedefined(prev: RunConfig, next: RunConfig): boolean {
  return (
    prev.path !== next.path ||
    !isDeepStrictEqual(prev.include, next.include) ||
    !isDeepStrictEqual(prev.exclude, next.exclude) ||
    !isDeepStrictEqual(prev.ownFiles, next.ownFiles)
  );
}

/** True when the retention rules of `next` may keep other snapshots or saves than `prev`'s. */
export function retentionChanged(prev: RunConfig, next: RunConfig): boolean {
  const rulesOf = (r: RunConfig): unknown[] => [r.backup.rolling, r.backup.keep, r.retention, r.save.keep];
  return !isDeepStrictEqual(rulesOf(prev), rulesOf(next));
}
