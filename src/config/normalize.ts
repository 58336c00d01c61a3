/**
 * From what the YAML says (`RawConfig`, shape already checked) to the normalized `Config`: units
 * parsed to ms and bytes, paths made absolute against the config file's folder, defaults filled
 * in, and every rule of SPEC section 3 checked. Pure: the caller passes the folder and home.
 *
 * This is the coordinator; each job has its own module:
 * - `defaults.ts`: the value of each key left out;
 * - `resolve-paths.ts`: absolute paths and the default store and save folder;
 * - `normalize-run.ts`: one run, key by key, in the order problems are reported;
 * - `normalize-progress.ts`, `normalize-policies.ts` (every, cron, save prefix),
 *   `normalize-retention.ts`, `normalize-globs.ts`: the keys with a grammar of their own;
 * - `normalize-remote.ts` (with `remote-address.ts`): the top-level and per-run `remote:` blocks;
 * - `config-rules.ts`: the cross-field rules, within a run and across runs;
 * - `problems.ts`: the problem collection (order kept, located by key path).
 */
import { checkAcrossRuns, tildeNeedsHome } from './config-rules.js';
import { topLevelRemote } from './normalize-remote.js';
import { normalizeRun } from './normalize-run.js';
import { collectProblems, type PathProblem } from './problems.js';
import { resolvePath, type PathBase } from './resolve-paths.js';
import type { RawConfig } from './schema.js';
import type { Config } from './types.js';

export { DEFAULTS } from './defaults.js';
export type { PathProblem } from './problems.js';
export { resolvePath, type PathBase } from './resolve-paths.js';

/** Normalizes a shape-checked config; returns the config, or every problem found. */
export function normalizeConfig(raw: RawConfig, file: string | null, base: PathBase): { config: Config } | { problems: PathProblem[] } {
  const { problems, report } = collectProblems();
  const topRemote = topLevelRemote(raw.remote, report);
  const log = raw.log ?? {};
  const logFile = log.file ? resolvePath(log.file, base) : null;
  const metricsFile = raw.metrics?.file ? resolvePath(raw.metrics.file, base) : null;
  // SPEC section 3: ckptd's own files are always excluded, even from a run they lie in.
  const ownFiles = [file, logFile, metricsFile].filter((f): f is string => f !== null);
  const runs = raw.runs.map((r, i) => ({ ...normalizeRun(r, ['runs', i], base, topRemote, report), ownFiles }));
  checkAcrossRuns(runs, report);
  tildeNeedsHome(log.file, base.home, ['log', 'file'], report);
  tildeNeedsHome(raw.metrics?.file, base.home, ['metrics', 'file'], report);
  const config: Config = {
    file,
    log: { level: log.level ?? 'info', file: logFile, format: log.format ?? 'text' },
    metrics: { file: metricsFile },
    runs,
  };
  return problems.length > 0 ? { problems } : { config };
}
