/**
 * What a sandboxed system unit must know about a config: the paths the daemon writes (each run's
 * folder for restores, its store, its save folder, the log file's and the metrics file's folders), the folders that
 * must be mounted first, and whether a private /tmp would hide a run.
 */
import path from 'node:path';
import type { Config } from '../config/types.js';
import { isInside } from '../util/paths.js';

/** A path the daemon writes, and why (for people reading the unit and the install notes). */
export interface WritablePath {
  path: string;
  why: string;
  /** A run's folder may be created later by the trainer; stores and save folders are needed at start. */
  mayBeMissing: boolean;
}

/**
 * Every path the daemon may write for `config`, sorted: a path inside another listed one is left
 * out (the outer one already covers it, and its reason is kept).
 */
export function writablePaths(config: Config): WritablePath[] {
  const all: WritablePath[] = [];
  for (const run of config.runs) {
    all.push({ path: run.path, why: `run ${run.name}'s folder (restores write here)`, mayBeMissing: true });
    all.push({ path: run.store, why: `run ${run.name}'s store`, mayBeMissing: false });
    all.push({ path: run.save.to, why: `run ${run.name}'s saves`, mayBeMissing: false });
  }
  if (config.log.file) all.push({ path: path.dirname(config.log.file), why: 'the log file\'s folder', mayBeMissing: false });
  // The metrics file is replaced by a rename, so its folder must be writable, not just the file.
  if (config.metrics.file) all.push({ path: path.dirname(config.metrics.file), why: 'the metrics file\'s folder', mayBeMissing: false });
  const sorted = [...all].sort((a, b) => a.path.length - b.path.length || a.path.localeCompare(b.path));
  const kept: WritablePath[] = [];
  for (const w of sorted) {
    const covered = kept.find((k) => isInside(w.path, k.path));
    // A store inside a run's folder is covered, but then it is needed at start after all.
    if (covered) covered.mayBeMissing &&= w.mayBeMissing;
    else kept.push({ ...w });
  }
  return kept.sort((a, b) => a.path.localeCompare(b.path));
}

/** True when any of `paths` is /tmp or /var/tmp or lies inside one (PrivateTmp= would hide it). */
export function needsSharedTmp(paths: string[]): boolean {
  return paths.some((p) => ['/tmp', '/var/tmp'].some((t) => isInside(p, t)));
}
