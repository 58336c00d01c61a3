/**
 * The cross-field rules of SPEC section 3: checks that look at two or more values together, after
 * each has been normalized on its own. Contract: each rule is a small named function over values
 * already resolved (absolute paths, parsed schedules, the progress spec); it reports what breaks it
 * at the key the user should change and never changes a value. A rule runs where its caller calls
 * it (`normalize-run.ts`, `normalize-policies.ts`, `normalize.ts`); since problems come out in the
 * order reported, that place is part of the output. A new rule is a new function here plus one call
 * (or one entry in `ACROSS_RUNS_RULES`).
 */
import path from 'node:path';
import type { Every } from '../policy/types.js';
import { isInside } from '../util/paths.js';
import { namedGroups } from './normalize-progress.js';
import type { Report } from './problems.js';
import { usesHome, type RunPaths } from './resolve-paths.js';
import type { ProgressSpec, RunConfig } from './types.js';
import type { KeyPath } from './yaml-positions.js';

/** What a rule over one run sees: its name, where it sits in the YAML, its resolved places. */
export interface RunFacts {
  name: string;
  at: KeyPath;
  paths: RunPaths;
}

/** A rule over one run. */
export type RunRule = (run: RunFacts, report: Report) => void;

/** A rule over run `i` and the runs before it (so a clash is reported once, at the later run). */
export type AcrossRunsRule = (runs: readonly RunConfig[], i: number, report: Report) => void;

/**
 * A path written with `~` needs HOME to be an absolute folder: set but empty (or relative), it would
 * make `~/run` relative to wherever ckptd started instead of the home folder.
 */
export function tildeNeedsHome(value: string | null | undefined, home: string, at: KeyPath, report: Report): void {
  if (!value || !usesHome(value) || path.isAbsolute(home)) return;
  const why = home === '' ? 'empty' : `"${home}", not an absolute folder`;
  report(at, `"${value}" starts with ~, which needs HOME, but HOME is ${why}; set HOME to your home folder, or write the full path`);
}

/** The store is not the root, not inside the run (the trainer could delete it), and does not hold the run. */
export const storeApartFromRun: RunRule = ({ name, at, paths }, report) => {
  const { path: runPath, store } = paths;
  if (store === path.parse(store).root) {
    report([...at, 'store'], 'the store cannot be the file system root; use a folder such as ~/.ckptd/' + name);
  } else if (isInside(store, runPath)) {
    report(
      [...at, paths.storeGiven ? 'store' : 'path'],
      `the store ${store} is inside the run folder ${runPath}; the trainer could delete it and every snapshot would copy it. Put the store outside the run (the default is <run's parent>/.ckptd/<name>)`,
    );
  } else if (isInside(runPath, store)) {
    report([...at, 'store'], `the run folder ${runPath} is inside the store ${store}; use a store outside the run`);
  }
};

/** A `save.to` the YAML names lies outside the run (saves there would look like trainer changes). */
export const saveToOutsideRun: RunRule = ({ at, paths }, report) => {
  if (paths.saveToGiven && isInside(paths.saveTo, paths.path)) {
    report([...at, 'save', 'to'], `${paths.saveTo} is inside the run folder ${paths.path}; saves written there would look like trainer changes. Use a folder outside the run`);
  }
};

/** The folders of a store that ckptd itself empties, removes or fills (SPEC section 5 and its own). */
const STORE_OWN_FOLDERS = ['.staging', '.trash', '.remote-staging', 'snapshots', 'save-records', 'damaged', 'requests'];

/** Where in `store` a save folder would meet the store's own work, or null: the store itself or one of its own folders. */
export function insideStoreWork(dir: string, store: string): string | null {
  if (path.resolve(dir) === path.resolve(store)) return store;
  return STORE_OWN_FOLDERS.map((f) => path.join(store, f)).find((f) => isInside(dir, f)) ?? null;
}

/**
 * A `save.to` the YAML names is neither the store nor inside a folder of the store's own
 * (`.staging`, `.trash`, `snapshots`, ...), whose clean-up and deletions would remove saves there.
 */
export const saveToOutsideStore: RunRule = ({ at, paths }, report) => {
  const work = paths.saveToGiven ? insideStoreWork(paths.saveTo, paths.store) : null;
  if (work !== null) {
    report([...at, 'save', 'to'], `${paths.saveTo} is ${work === paths.store ? 'the store itself' : `inside ${work}, a folder of the store's own`}, where its clean-up could remove saves. Leave save.to out (saves then go to ${path.join(paths.store, 'saves')}) or use another folder`);
  }
};

/** `N epochs`/`N steps` need a progress source that can tell epochs/steps (`dfl` tells steps only). */
export function everyNeedsProgress(every: Every, progress: ProgressSpec, at: KeyPath, report: Report): void {
  if (every.unit !== 'epochs' && every.unit !== 'steps') return;
  const what = every.unit === 'epochs' ? 'epoch' : 'step';
  if (progress.kind === 'none') {
    report(at, `"${every.unit}" needs a progress source, but progress is none; set progress (auto, hf, ...) or use a time or change schedule`);
  } else if (progress.kind === 'file' && progress[what] === null) {
    report(at, `"${every.unit}" needs progress.${what}: the progress file source has no "${what}" key path`);
  } else if (progress.kind === 'filename' && !namedGroups(new RegExp(progress.pattern)).includes(what)) {
    report(at, `"${every.unit}" needs a (?<${what}>...) group in progress.filename`);
  } else if (progress.kind === 'preset' && progress.preset === 'dfl' && every.unit === 'epochs') {
    report(at, '"epochs" never fire with progress: dfl: DeepFaceLab counts iterations, not epochs; write N steps (e.g. 10000 steps)');
  }
}

/** Run names are unique. */
export const uniqueRunName: AcrossRunsRule = (runs, i, report) => {
  const run = runs[i]!;
  const first = runs.findIndex((r) => r.name === run.name);
  if (first !== i) report(['runs', i, 'name'], `the run name "${run.name}" is already used by runs.${first}; run names must be unique`);
};

/**
 * Runs watch folders apart: the same folder, or one inside another, would be captured by both,
 * and a restore of one would rewrite (and remove) the other's files.
 */
export const separateRunFolders: AcrossRunsRule = (runs, i, report) => {
  const run = runs[i]!;
  runs.forEach((other, j) => {
    if (j >= i || (!isInside(run.path, other.path) && !isInside(other.path, run.path))) return;
    const how = path.resolve(run.path) === path.resolve(other.path) ? 'is the folder' : isInside(run.path, other.path) ? 'is inside the folder' : 'holds the folder';
    report(['runs', i, 'path'], `${run.path} ${how} of runs.${j} ("${other.name}"), ${other.path}: both would capture its files, and restoring one would rewrite the other's. Give each run a folder of its own`);
  });
};

/** Each run has its own store, and no store lies inside another run's folder. */
export const separateStores: AcrossRunsRule = (runs, i, report) => {
  const run = runs[i]!;
  runs.forEach((other, j) => {
    if (j >= i) return;
    if (other.store === run.store) {
      report(['runs', i, 'store'], `runs.${j} ("${other.name}") uses the same store ${run.store}; each run needs its own store`);
    } else if (isInside(run.store, other.path) || isInside(other.store, run.path)) {
      report(['runs', i, 'store'], `a store lies inside the run folder of another run ("${other.name}" / "${run.name}"); keep stores outside every run`);
    }
  });
};

/**
 * Remotes in one bucket (same endpoint) use the same prefix or prefixes apart: one inside the
 * other would put one remote's objects among the other's, where its listing and its clean-up of
 * unused objects would meet them. Runs sharing one url are fine: the remote keys runs by name.
 */
export const remotesApart: AcrossRunsRule = (runs, i, report) => {
  const mine = runs[i]!.remote;
  if (mine === null) return;
  runs.forEach((other, j) => {
    const theirs = other.remote;
    if (j >= i || theirs === null || theirs.bucket !== mine.bucket || theirs.endpoint !== mine.endpoint || theirs.prefix === mine.prefix) return;
    if (!prefixWithin(mine.prefix, theirs.prefix) && !prefixWithin(theirs.prefix, mine.prefix)) return;
    report(
      ['runs', i, 'remote', 'url'],
      `this run's remote ${mine.url} and the remote ${theirs.url} of runs.${j} ("${other.name}") are nested in one bucket, so one remote's objects would sit among the other's. Use the same url for both (runs are kept apart by name) or prefixes side by side, e.g. s3://${mine.bucket}/one and s3://${mine.bucket}/two`,
    );
  });
};

/**
 * A run's `save.to` lies in no other run's folder (that run's restore would remove the saves as
 * files its snapshot lacks, and its backups would copy them) and in no other run's store.
 */
export const saveToApartFromOtherRuns: AcrossRunsRule = (runs, i, report) => {
  const run = runs[i]!;
  // The default (the store's own saves folder) lies where the store does: `separateStores` says so.
  if (run.save.to === path.join(run.store, 'saves')) return;
  runs.forEach((other, j) => {
    if (j === i) return;
    const where = isInside(run.save.to, other.path) ? 'run folder' : insideStoreWork(run.save.to, other.store) !== null ? 'store' : null;
    if (where === null) return;
    report(['runs', i, 'save', 'to'], `${run.save.to} is inside the ${where} of runs.${j} ("${other.name}"): that run's ${where === 'store' ? 'clean-up' : 'restores'} could remove saves written there. Use a folder outside every run and store`);
  });
};

function prefixWithin(inner: string, outer: string): boolean {
  return outer === '' || inner.startsWith(`${outer}/`);
}

/** The rules across runs, in the order they run for each run. */
export const ACROSS_RUNS_RULES: readonly AcrossRunsRule[] = [uniqueRunName, separateRunFolders, separateStores, saveToApartFromOtherRuns, remotesApart];

/** Runs every rule across runs, run by run. */
export function checkAcrossRuns(runs: readonly RunConfig[], report: Report): void {
  runs.forEach((_, i) => {
    for (const rule of ACROSS_RUNS_RULES) rule(runs, i, report);
  });
}
