/**
 * Path resolution. Contract: every path a config names becomes absolute: `~` and `~/x` under the
 * home folder, anything else relative to the config file's folder. Paths left out get their
 * defaults: the store is `<run's parent>/.ckptd/<name>`, saves go to `<store>/saves`. Pure (path
 * arithmetic only, nothing is read) and reports nothing: whether a place is allowed is for the
 * rules in `config-rules.ts` and the checks in `normalize-run.ts`.
 */
import path from 'node:path';
import type { RawRun } from './schema.js';

/** Where relative paths start and what `~` means. */
export interface PathBase {
  /** The config file's folder. */
  dir: string;
  home: string;
}

/** Whether a config value starts with `~` (`~` or `~/x`), so that it needs a home folder. */
export function usesHome(value: string): boolean {
  return value === '~' || value.startsWith('~/');
}

/**
 * Absolute path for a config value: `~/x` is under home, relative is under the config's folder.
 * A home that is not absolute (HOME set but empty) is taken from the config's folder too, so the
 * result stays absolute; `tildeNeedsHome` (config-rules.ts) reports it.
 */
export function resolvePath(value: string, base: PathBase): string {
  if (usesHome(value)) return path.resolve(base.dir, base.home, value.slice(2));
  return path.resolve(base.dir, value);
}

/** A run's places, absolute, with whether the YAML named them (an empty value counts as not). */
export interface RunPaths {
  path: string;
  store: string;
  storeGiven: boolean;
  saveTo: string;
  saveToGiven: boolean;
}

/** Resolves a run's folder, its store and where its saves go, filling in the defaults. */
export function resolveRunPaths(raw: RawRun, base: PathBase): RunPaths {
  const runPath = resolvePath(raw.path, base);
  const storeGiven = Boolean(raw.store);
  const store = raw.store ? resolvePath(raw.store, base) : path.join(path.dirname(runPath), '.ckptd', raw.name);
  const to = raw.save?.to;
  const saveTo = to ? resolvePath(to, base) : path.join(store, 'saves');
  return { path: runPath, store, storeGiven, saveTo, saveToGiven: Boolean(to) };
}
