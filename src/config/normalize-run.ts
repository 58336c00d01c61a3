/**
 * One entry of `runs`, from what the YAML says (`RawRun`, shape already checked) to a `RunConfig`.
 * Contract: paths resolved (`resolve-paths.ts`), defaults filled in (`defaults.ts`), every key
 * normalized by its own module, the rules within one run checked (`config-rules.ts`), every
 * problem reported at its key path. The steps run in a fixed order because problems come out in
 * the order found: name, `~` without a home (path, store, save.to), path, store placement, include, exclude, settle, progress, backup.every,
 * save.every, save.prefix, save.to, retention sizes, backup.cron, save.cron, save.files,
 * retention.min_age, remote. A progress value reported as wrong is not blamed a second time by an
 * `every` in epochs or steps. `progress: dfl` adds DeepFaceLab's autobackup and preview folders
 * (`DFL_EXCLUDES`) to `exclude`. Rules across runs are the coordinator's (`normalize.ts`), and so is
 * the top-level remote, which comes in already normalized.
 */
import path from 'node:path';
import { saveToOutsideRun, saveToOutsideStore, storeApartFromRun, tildeNeedsHome, type RunFacts } from './config-rules.js';
import { DEFAULTS } from './defaults.js';
import { checkGlobs } from './normalize-globs.js';
import { normalizeCron, normalizeEvery, normalizeSavePrefix } from './normalize-policies.js';
import { normalizeProgress } from './normalize-progress.js';
import { DFL_EXCLUDES } from './presets.js';
import { runRemote, type RemoteKeys } from './normalize-remote.js';
import { retentionLimits, retentionMinAgeMs } from './normalize-retention.js';
import { valueOr, type Report } from './problems.js';
import { resolveRunPaths, type PathBase } from './resolve-paths.js';
import type { RawRun } from './schema.js';
import type { RunConfig } from './types.js';
import { parseDuration, TIMER_LIMIT } from './units.js';
import type { KeyPath } from './yaml-positions.js';

const NAME_RE = /^[a-z0-9._-]+$/;

/**
 * Normalizes run `at` (`['runs', i]`), reporting every problem; the result is whole even then.
 * `topRemote`: the top-level `remote:` keys (null when there is none), which the run inherits.
 */
export function normalizeRun(raw: RawRun, at: KeyPath, base: PathBase, topRemote: RemoteKeys | null, report: Report): Omit<RunConfig, 'ownFiles'> {
  const name = raw.name;
  const paths = resolveRunPaths(raw, base);
  const facts: RunFacts = { name, at, paths };
  checkRunName(name, [...at, 'name'], report);
  tildeNeedsHome(raw.path, base.home, [...at, 'path'], report);
  tildeNeedsHome(raw.store, base.home, [...at, 'store'], report);
  tildeNeedsHome(raw.save?.to, base.home, [...at, 'save', 'to'], report);
  checkRunPath(raw.path, paths.path, [...at, 'path'], report);
  storeApartFromRun(facts, report);

  const include = checkGlobs(raw.include ?? [...DEFAULTS.include], [...at, 'include'], report);
  const exclude = checkGlobs(raw.exclude ?? [], [...at, 'exclude'], report);
  const settleMs = valueOr(parseDuration(raw.settle ?? DEFAULTS.settle, TIMER_LIMIT), [...at, 'settle'], report, 2000);
  let progressProblems = 0;
  const progress = normalizeProgress(raw.progress ?? DEFAULTS.progress, [...at, 'progress'], (k, m) => {
    progressProblems++;
    report(k, m);
  });
  // A source already reported as wrong is not blamed again by the schedules that need it.
  const checkedProgress = progressProblems === 0 ? progress : null;

  const b = raw.backup ?? {};
  const s = raw.save ?? {};
  const r = raw.retention ?? {};
  const backupEvery = normalizeEvery(b.every, DEFAULTS.backupEvery, checkedProgress, [...at, 'backup', 'every'], report);
  const saveEvery = normalizeEvery(s.every, DEFAULTS.saveEvery, checkedProgress, [...at, 'save', 'every'], report);
  const prefix = normalizeSavePrefix(s.prefix ?? '', name, [...at, 'save', 'prefix'], report);
  saveToOutsideRun(facts, report);
  saveToOutsideStore(facts, report);
  const limits = retentionLimits(r, [...at, 'retention'], report);
  const backupCron = normalizeCron(b.cron ?? null, [...at, 'backup', 'cron'], report);
  const saveCron = normalizeCron(s.cron ?? null, [...at, 'save', 'cron'], report);
  const saveFiles = checkGlobs(s.files ?? [...DEFAULTS.saveFiles], [...at, 'save', 'files'], report);
  const minAgeMs = retentionMinAgeMs(r, [...at, 'retention'], report);
  const remote = runRemote(raw.remote, topRemote, at, report);

  return {
    name,
    path: paths.path,
    store: paths.store,
    include,
    // DeepFaceLab's rotating autobackups and preview images are never the state (see DFL_EXCLUDES).
    exclude: progress.kind === 'preset' && progress.preset === 'dfl' ? [...new Set([...exclude, ...DFL_EXCLUDES])] : exclude,
    settleMs,
    watch: raw.watch ?? 'auto',
    priority: raw.priority ?? 'low',
    progress,
    modelType: raw.model_type?.trim() || null,
    backup: {
      every: backupEvery.every,
      everyText: backupEvery.everyText,
      cron: backupCron,
      rolling: b.rolling ?? true,
      keep: b.keep ?? DEFAULTS.keep,
      beforeSave: b.before_save ?? true,
      deleteOnFinish: b.delete_on_finish ?? false,
    },
    save: {
      every: saveEvery.every,
      everyText: saveEvery.everyText,
      cron: saveCron,
      files: saveFiles,
      prefix,
      to: paths.saveTo,
      keep: s.keep ?? null,
      pick: s.pick ?? DEFAULTS.savePick,
    },
    retention: { ...limits, minAgeMs },
    remote,
  };
}

/** The name is of `NAME_RE` and not `.` or `..`: it names a folder (the default store, `runs/<name>/` in a remote). */
function checkRunName(name: string, at: KeyPath, report: Report): void {
  if (!NAME_RE.test(name)) {
    report(at, `"${name}" is not a valid run name; use lower-case letters, digits, ".", "_" and "-" (e.g. "${suggestName(name)}")`);
  } else if (name === '.' || name === '..') {
    report(at, `"${name}" is not a valid run name: the name is a folder (of the default store, and in a remote), where "${name}" means another folder; use a name with a letter or digit, e.g. "my-run"`);
  }
}

/** The run folder is named and is not the file system root. */
function checkRunPath(given: string, runPath: string, at: KeyPath, report: Report): void {
  if (given.trim() === '') report(at, 'must name the folder the trainer writes');
  else if (runPath === path.parse(runPath).root) report(at, 'the run folder cannot be the file system root; name the folder the trainer writes');
}

function suggestName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'my-run';
}
