/**
 * What most commands need first: the config (found per SPEC section 2's search order) and the run
 * the command is about (`--run NAME`, optional when the config has exactly one run).
 */
import fs from 'node:fs';
import { loadConfigFile, placeProblems } from '../config/load.js';
import { resolveConfigPath } from '../config/locate.js';
import type { Config, RunConfig } from '../config/types.js';
import { ConfigError, UsageError } from '../util/errors.js';

export interface GlobalOptions {
  config?: string;
  run?: string;
  json?: boolean;
}

/** Finds and loads the config; throws `UsageError` naming every place tried, or `ConfigError`. */
export function loadCliConfig(explicit: string | undefined): Config {
  const found = resolveConfigPath(explicit, process.env, process.cwd(), (p) => fs.existsSync(p));
  if ('tried' in found) {
    throw new UsageError(
      `no config file found (tried ${found.tried.join(', ')}); pass --config PATH, or create one with \`ckptd init\``,
    );
  }
  return loadConfigFile(found.path);
}

/**
 * For the commands about every run of the config, or none of it (`daemon`, `watch`, `init`,
 * `install-service`): `--run` is bad usage, saying `why`, rather than ignored.
 */
export function refuseRun(opts: GlobalOptions, command: string, why: string): void {
  if (opts.run !== undefined) throw new UsageError(`${command} does not take --run: ${why}`);
}

/** Picks the run named by `--run`, or the only run of the config. */
export function pickRun(config: Config, name: string | undefined): RunConfig {
  const names = config.runs.map((r) => r.name);
  if (name === undefined) {
    if (config.runs.length === 1) return config.runs[0]!;
    throw new UsageError(`the config has ${names.length} runs (${names.join(', ')}); choose one with --run NAME`);
  }
  const run = config.runs.find((r) => r.name === name);
  if (!run) throw new UsageError(`no run named "${name}" in ${config.file ?? 'the config'}; its runs are: ${names.join(', ')}`);
  return run;
}

/**
 * Throws a `ConfigError` (exit 2) naming each folder of `runs` that cannot be used (a file, no
 * permission, a link loop: `placeProblems`), at its key in the config file.
 */
export function checkPlaces(config: Config, runs: readonly RunConfig[]): void {
  const problems = placeProblems(config, runs);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Loads the config and picks the run in one step; the run's folders must be usable (`checkPlaces`). */
export function loadRun(opts: GlobalOptions): { config: Config; run: RunConfig } {
  const config = loadCliConfig(opts.config);
  const run = pickRun(config, opts.run);
  checkPlaces(config, [run]);
  return { config, run };
}

/** Writes one JSON document to stdout (the `--json` contract: nothing else goes to stdout). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
