/** `ckptd check-config [PATH]`: every problem as `FILE:LINE:COL key.path: message`, exit 2 on any. */
import { loadConfigFile } from '../config/load.js';
import { formatEvery } from '../policy/format.js';
import { ConfigError, formatProblem } from '../util/errors.js';

export function checkConfig(file: string): { exitCode: number; output: string } {
  try {
    const config = loadConfigFile(file);
    const runs = config.runs.map((r) => `  ${r.name}: ${r.path} -> store ${r.store}; backup ${formatEvery(r.backup.every)}, save ${formatEvery(r.save.every)}`);
    return { exitCode: 0, output: [`${file}: ok (${config.runs.length} run${config.runs.length === 1 ? '' : 's'})`, ...runs].join('\n') };
  } catch (err) {
    if (err instanceof ConfigError) return { exitCode: 2, output: err.problems.map(formatProblem).join('\n') };
    throw err;
  }
}
