/**
 * `ckptd check-config [PATH] [--run NAME]`: every problem as `FILE:LINE:COL key.path: message`, exit 2 on any,
 * then (for a config that validates) every run folder, store or save folder that cannot be used.
 * A valid config prints one line per run (its folder, store and schedules) and, when any run has
 * a remote, one more line per run with the remote it pushes to, or `remote: none`. With `--run
 * NAME`, the file must still load whole, but only that run's folders are checked and shown.
 */
import { loadConfigFile, placeProblems } from '../config/load.js';
import type { RemoteConfig, RemoteKeep } from '../config/types.js';
import { formatBytes, formatEvery, formatSpan } from '../policy/format.js';
import { ConfigError, formatProblem } from '../util/errors.js';
import { pickRun } from './context.js';

/**
 * Checks the config `file` (of run `only`, when given: a `UsageError`, exit 2, naming the runs
 * when it has no such run). Returns the exit code and what to print on stdout.
 */
export function checkConfig(file: string, only?: string): { exitCode: number; output: string } {
  try {
    const config = loadConfigFile(file);
    const checked = only === undefined ? config.runs : [pickRun(config, only)];
    const unusable = placeProblems(config, checked);
    if (unusable.length > 0) throw new ConfigError(unusable);
    const anyRemote = checked.some((r) => r.remote !== null);
    const what = only === undefined ? `${config.runs.length} run${config.runs.length === 1 ? '' : 's'}` : `run ${only}`;
    const runs = checked.flatMap((r) => [
      `  ${r.name}: ${r.path} -> store ${r.store}; backup ${formatEvery(r.backup.every)}, save ${formatEvery(r.save.every)}`,
      ...(anyRemote ? [`    ${describeRemote(r.remote)}`] : []),
    ]);
    return { exitCode: 0, output: [`${file}: ok (${what})`, ...runs].join('\n') };
  } catch (err) {
    if (err instanceof ConfigError) return { exitCode: 2, output: err.problems.map(formatProblem).join('\n') };
    throw err;
  }
}

/**
 * `remote s3://b/p at http://127.0.0.1:9000 (region us-east-1, path style): push backups, keep
 * the newest 10, 7 daily within 500.0 GB (min age 1 hour), bandwidth 50.0 MB/s`, or `remote: none`.
 */
export function describeRemote(remote: RemoteConfig | null): string {
  if (remote === null) return 'remote: none';
  const at = remote.endpoint === null ? '' : ` at ${remote.endpoint}`;
  const style = remote.forcePathStyle ? ', path style' : '';
  const push = remote.push === 'none' ? 'push none (only read: list, pull, restore)' : `push ${remote.push}`;
  const keep = remote.keep === null ? 'keep all pushed' : `keep ${describeKeep(remote.keep)}`;
  const bandwidth = remote.bandwidthBytesPerSec === null ? '' : `, bandwidth ${formatBytes(remote.bandwidthBytesPerSec)}/s`;
  return `remote ${remote.url}${at} (region ${remote.region}${style}): ${push}, ${keep}${bandwidth}`;
}

function describeKeep(k: RemoteKeep): string {
  const rules = [
    k.keepLast === null ? null : `the newest ${k.keepLast}`,
    k.keepBest === null ? null : `the best ${k.keepBest.count} by ${k.keepBest.metric} (${k.keepBest.mode})`,
    k.keepHourly > 0 ? `${k.keepHourly} hourly` : null,
    k.keepDaily > 0 ? `${k.keepDaily} daily` : null,
    k.keepWeekly > 0 ? `${k.keepWeekly} weekly` : null,
  ].filter((r): r is string => r !== null);
  const cap = k.maxSizeBytes === null ? '' : ` within ${formatBytes(k.maxSizeBytes)}${k.minAgeMs > 0 ? ` (min age ${formatSpan(k.minAgeMs)})` : ''}`;
  return `${rules.length > 0 ? rules.join(', ') : 'all'}${cap}`;
}
