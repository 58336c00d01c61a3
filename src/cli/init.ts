/**
 * `ckptd init [DIR] --preset NAME`: writes a commented starter config for a run folder, validated
 * before it is written, and never over an existing file unless `--force`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseConfigText } from '../config/load.js';
import { renderStarterConfig, type InitPreset } from '../config/presets.js';
import { writeFileAtomicSync } from '../store/durable.js';
import { formatProblem, UsageError } from '../util/errors.js';
import { isInside } from '../util/paths.js';

export interface InitOptions {
  /** Absolute path of the run folder. */
  dir: string;
  preset: InitPreset;
  /** Absolute path of the config file to write. */
  configPath: string;
  force: boolean;
}

export function runInit(opts: InitOptions): { path: string } {
  // --force replaces a file, never a folder; a run folder that is a file would make a config no command can use.
  if (statOrNull(opts.configPath)?.isDirectory()) {
    throw new UsageError(`${opts.configPath} is a folder; name the config file to write with --config, e.g. --config ${path.join(opts.configPath, 'ckptd.yaml')}`);
  }
  const dirStat = statOrNull(opts.dir);
  if (dirStat !== null && !dirStat.isDirectory()) throw new UsageError(`${opts.dir} is a file, not a folder; name the folder the trainer writes`);
  if (fs.existsSync(opts.configPath) && !opts.force) {
    throw new UsageError(`${opts.configPath} already exists; pass --force to overwrite it, or --config to write elsewhere`);
  }
  const configDir = path.dirname(opts.configPath);
  const rel = path.relative(configDir, opts.dir);
  const runPath = rel === '' ? '.' : isInside(opts.dir, configDir) ? `./${rel}` : opts.dir;
  const base = path.basename(opts.dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  const text = renderStarterConfig(opts.preset, base || 'my-run', runPath);
  const checked = parseConfigText(text, opts.configPath);
  if ('problems' in checked) {
    throw new UsageError(`cannot write a valid config for ${opts.dir}:\n${checked.problems.map(formatProblem).join('\n')}`);
  }
  fs.mkdirSync(path.dirname(opts.configPath), { recursive: true });
  writeFileAtomicSync(opts.configPath, text, { mode: 0o644, keepUmask: true });
  return { path: opts.configPath };
}

/** What is at `p` (links followed), or null when nothing can be found there (missing, under a file, not allowed). */
function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}
