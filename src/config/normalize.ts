/**
 * From what the YAML says (`RawConfig`, shape already checked) to the normalized `Config`: units
 * parsed to ms and bytes, paths made absolute against the config file's folder, defaults filled
 * in, and every rule of SPEC section 3 checked. Pure: the caller passes the folder and home.
 */
import path from 'node:path';
import cron from 'node-cron';
import picomatch from 'picomatch';
import type { Every } from '../policy/types.js';
import { parseKeyPath } from '../policy/key-path.js';
import type { RawConfig, RawRun } from './schema.js';
import type { Config, KeepBest, ProgressSpec, RunConfig } from './types.js';
import { parseDuration, parseEvery, parseSize, TIMER_LIMIT } from './units.js';
import { isInside } from '../util/paths.js';
import type { KeyPath } from './yaml-positions.js';

/** A problem found while normalizing, located by key path (the loader turns it into line:col). */
export interface PathProblem {
  keyPath: KeyPath;
  message: string;
}

export const DEFAULTS = {
  include: ['**/*'],
  settle: '2s',
  progress: 'auto',
  backupEvery: '30 minutes',
  keep: 3,
  saveEvery: 'never',
  saveFiles: ['**/*.safetensors', '**/*.ckpt', '**/*.pt', '**/*.bin'],
  minFree: '1GiB',
  minAge: '1h',
} as const;

const PRESET_NAMES = ['hf', 'lightning', 'keras', 'onetrainer', 'kohya'] as const;
const NAME_RE = /^[a-z0-9._-]+$/;

/** Where relative paths start and what `~` means. */
export interface PathBase {
  /** The config file's folder. */
  dir: string;
  home: string;
}

/** Normalizes a shape-checked config; returns the config, or every problem found. */
export function normalizeConfig(raw: RawConfig, file: string | null, base: PathBase): { config: Config } | { problems: PathProblem[] } {
  const problems: PathProblem[] = [];
  const report = (keyPath: KeyPath, message: string): void => {
    problems.push({ keyPath, message });
  };
  const runs = raw.runs.map((r, i) => normalizeRun(r, ['runs', i], base, report));
  checkAcrossRuns(runs, report);
  const log = raw.log ?? {};
  const config: Config = {
    file,
    log: {
      level: log.level ?? 'info',
      file: log.file ? resolvePath(log.file, base) : null,
      format: log.format ?? 'text',
    },
    metrics: { file: raw.metrics?.file ? resolvePath(raw.metrics.file, base) : null },
    runs,
  };
  return problems.length > 0 ? { problems } : { config };
}

type Report = (keyPath: KeyPath, message: string) => void;

function normalizeRun(raw: RawRun, at: KeyPath, base: PathBase, report: Report): RunConfig {
  const name = raw.name;
  if (!NAME_RE.test(name)) {
    report([...at, 'name'], `"${name}" is not a valid run name; use lower-case letters, digits, ".", "_" and "-" (e.g. "${suggestName(name)}")`);
  }
  const runPath = resolvePath(raw.path, base);
  const storeGiven = raw.store ?? null;
  const store = storeGiven ? resolvePath(storeGiven, base) : path.join(path.dirname(runPath), '.ckptd', name);
  if (raw.path.trim() === '') report([...at, 'path'], 'must name the folder the trainer writes');
  else if (runPath === path.parse(runPath).root) report([...at, 'path'], 'the run folder cannot be the file system root; name the folder the trainer writes');
  if (store === path.parse(store).root) {
    report([...at, 'store'], 'the store cannot be the file system root; use a folder such as ~/.ckptd/' + name);
  } else if (isInside(store, runPath)) {
    report(
      [...at, storeGiven ? 'store' : 'path'],
      `the store ${store} is inside the run folder ${runPath}; the trainer could delete it and every snapshot would copy it. Put the store outside the run (the default is <run's parent>/.ckptd/<name>)`,
    );
  } else if (isInside(runPath, store)) {
    report([...at, 'store'], `the run folder ${runPath} is inside the store ${store}; use a store outside the run`);
  }

  const include = checkGlobs(raw.include ?? [...DEFAULTS.include], [...at, 'include'], report);
  const exclude = checkGlobs(raw.exclude ?? [], [...at, 'exclude'], report);
  const settleMs = unit(parseDuration(raw.settle ?? DEFAULTS.settle, TIMER_LIMIT), [...at, 'settle'], report, 2000);
  const progress = normalizeProgress(raw.progress ?? DEFAULTS.progress, [...at, 'progress'], report);

  const b = raw.backup ?? {};
  const backupEveryText = everyText(b.every, DEFAULTS.backupEvery);
  const backupEvery = unit(parseEvery(b.every === undefined ? DEFAULTS.backupEvery : b.every), [...at, 'backup', 'every'], report, { unit: 'never' } as Every);
  checkProgressFor(backupEvery, progress, [...at, 'backup', 'every'], report);
  const s = raw.save ?? {};
  const saveEveryText = everyText(s.every, DEFAULTS.saveEvery);
  const saveEvery = unit(parseEvery(s.every === undefined ? DEFAULTS.saveEvery : s.every), [...at, 'save', 'every'], report, { unit: 'never' } as Every);
  checkProgressFor(saveEvery, progress, [...at, 'save', 'every'], report);

  const prefix = s.prefix ?? '';
  if (/[/\\\0]/.test(prefix) || prefix === '.' || prefix === '..') {
    report([...at, 'save', 'prefix'], `"${prefix}" cannot hold "/", "\\" or NUL; it is prepended to a file name`);
  }
  const saveTo = s.to ? resolvePath(s.to, base) : path.join(store, 'saves');
  if (s.to && isInside(saveTo, runPath)) {
    report([...at, 'save', 'to'], `${saveTo} is inside the run folder ${runPath}; saves written there would look like trainer changes. Use a folder outside the run`);
  }

  const r = raw.retention ?? {};
  let keepBest: KeepBest | null = null;
  if (r.keep_best) keepBest = { metric: r.keep_best.metric, mode: r.keep_best.mode ?? 'min', count: r.keep_best.count ?? 1 };
  const maxSizeBytes = r.max_size === null || r.max_size === undefined ? null : unit(parseSize(r.max_size), [...at, 'retention', 'max_size'], report, null);
  const minFreeBytes =
    r.min_free === null ? 0 : unit(parseSize(r.min_free ?? DEFAULTS.minFree), [...at, 'retention', 'min_free'], report, 0);

  return {
    name,
    path: runPath,
    store,
    include,
    exclude,
    settleMs,
    watch: raw.watch ?? 'auto',
    progress,
    modelType: raw.model_type?.trim() || null,
    backup: {
      every: backupEvery,
      everyText: backupEveryText,
      cron: checkCron(b.cron ?? null, [...at, 'backup', 'cron'], report),
      rolling: b.rolling ?? true,
      keep: b.keep ?? DEFAULTS.keep,
      beforeSave: b.before_save ?? true,
      deleteOnFinish: b.delete_on_finish ?? false,
    },
    save: {
      every: saveEvery,
      everyText: saveEveryText,
      cron: checkCron(s.cron ?? null, [...at, 'save', 'cron'], report),
      files: checkGlobs(s.files ?? [...DEFAULTS.saveFiles], [...at, 'save', 'files'], report),
      prefix,
      to: saveTo,
      keep: s.keep ?? null,
    },
    retention: {
      keepBest,
      keepHourly: r.keep_hourly ?? 0,
      keepDaily: r.keep_daily ?? 0,
      keepWeekly: r.keep_weekly ?? 0,
      maxSizeBytes,
      minFreeBytes,
      minAgeMs: r.min_age === null ? 0 : unit(parseDuration(r.min_age ?? DEFAULTS.minAge), [...at, 'retention', 'min_age'], report, 3_600_000),
    },
  };
}

function checkAcrossRuns(runs: RunConfig[], report: Report): void {
  runs.forEach((run, i) => {
    const first = runs.findIndex((r) => r.name === run.name);
    if (first !== i) report(['runs', i, 'name'], `the run name "${run.name}" is already used by runs.${first}; run names must be unique`);
    runs.forEach((other, j) => {
      if (j >= i) return;
      if (other.store === run.store) {
        report(['runs', i, 'store'], `runs.${j} ("${other.name}") uses the same store ${run.store}; each run needs its own store`);
      } else if (isInside(run.store, other.path) || isInside(other.store, run.path)) {
        report(['runs', i, 'store'], `a store lies inside the run folder of another run ("${other.name}" / "${run.name}"); keep stores outside every run`);
      }
    });
  });
}

function normalizeProgress(value: unknown, at: KeyPath, report: Report): ProgressSpec {
  const choices = `auto, none, ${PRESET_NAMES.join(', ')}, {file, epoch, step, loss} or {filename: REGEX}`;
  if (value === null || value === 'none') return { kind: 'none' };
  if (value === 'auto') return { kind: 'auto' };
  if (typeof value === 'string') {
    if ((PRESET_NAMES as readonly string[]).includes(value)) return { kind: 'preset', preset: value as (typeof PRESET_NAMES)[number] };
    report(at, `"${value}" is not a progress source; use ${choices}`);
    return { kind: 'none' };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    report(at, `must be one of ${choices}`);
    return { kind: 'none' };
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if ('filename' in obj) {
    for (const k of keys) if (k !== 'filename') report([...at, k], `unknown key "${k}" next to "filename"; a filename source takes only the regex`);
    const pattern = obj.filename;
    if (typeof pattern !== 'string') {
      report([...at, 'filename'], 'must be a regular expression with named groups epoch, step or loss, e.g. "e(?<epoch>\\d+)"');
      return { kind: 'none' };
    }
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      report([...at, 'filename'], `not a valid regular expression: ${(err as Error).message}`);
      return { kind: 'none' };
    }
    const groups = namedGroups(re);
    if (!groups.some((g) => g === 'epoch' || g === 'step' || g === 'loss')) {
      report([...at, 'filename'], 'the regex needs at least one named group: (?<epoch>...), (?<step>...) or (?<loss>...)');
    }
    return { kind: 'filename', pattern };
  }
  if ('file' in obj) {
    const known = ['file', 'epoch', 'step', 'loss'];
    for (const k of keys) if (!known.includes(k)) report([...at, k], `unknown key "${k}"; a file source takes file, epoch, step and loss`);
    if (typeof obj.file !== 'string' || obj.file.trim() === '') {
      report([...at, 'file'], 'must name a JSON or YAML file inside the run folder, e.g. state.json');
      return { kind: 'none' };
    }
    if (path.isAbsolute(obj.file) || obj.file.split(/[/\\]/).includes('..')) {
      report([...at, 'file'], `"${obj.file}" must be a path inside the run folder (relative, without "..")`);
    }
    const keyPath = (k: 'epoch' | 'step' | 'loss'): string | null => {
      const v = obj[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string') {
        report([...at, k], `must be a key path such as "state.${k}" or "log_history[-1].${k}"`);
        return null;
      }
      try {
        parseKeyPath(v);
      } catch (err) {
        report([...at, k], (err as Error).message);
      }
      return v;
    };
    const spec = { kind: 'file' as const, file: obj.file, epoch: keyPath('epoch'), step: keyPath('step'), loss: keyPath('loss') };
    if (spec.epoch === null && spec.step === null && spec.loss === null) report(at, 'a file source needs at least one of epoch, step or loss');
    return spec;
  }
  report(at, `must be one of ${choices}`);
  return { kind: 'none' };
}

/** `N epochs`/`N steps` need a source that can tell epochs/steps. */
function checkProgressFor(every: Every, progress: ProgressSpec, at: KeyPath, report: Report): void {
  if (every.unit !== 'epochs' && every.unit !== 'steps') return;
  const what = every.unit === 'epochs' ? 'epoch' : 'step';
  if (progress.kind === 'none') {
    report(at, `"${every.unit}" needs a progress source, but progress is none; set progress (auto, hf, ...) or use a time or change schedule`);
  } else if (progress.kind === 'file' && progress[what] === null) {
    report(at, `"${every.unit}" needs progress.${what}: the progress file source has no "${what}" key path`);
  } else if (progress.kind === 'filename' && !namedGroups(new RegExp(progress.pattern)).includes(what)) {
    report(at, `"${every.unit}" needs a (?<${what}>...) group in progress.filename`);
  }
}

function checkGlobs(globs: string[], at: KeyPath, report: Report): string[] {
  globs.forEach((g, i) => {
    if (g.trim() === '') report([...at, i], 'an empty glob matches nothing; remove it');
    else if (path.isAbsolute(g)) report([...at, i], `"${g}" must be relative to the run folder (e.g. "**/*.safetensors")`);
    else if (g.split('/').includes('..')) report([...at, i], `"${g}" cannot reach outside the run folder with ".."`);
    else {
      try {
        picomatch.makeRe(g);
      } catch (err) {
        report([...at, i], `"${g}" is not a valid glob: ${(err as Error).message}`);
      }
      if (unbalanced(g)) report([...at, i], `"${g}" has an unclosed bracket or brace`);
    }
  });
  return globs;
}

function unbalanced(glob: string): boolean {
  const pairs: Record<string, string> = { '[': ']', '{': '}', '(': ')' };
  const stack: string[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === ']' || c === '}' || c === ')') {
      if (stack.pop() !== c) return true;
    }
  }
  return stack.length > 0;
}

function checkCron(expr: string | null, at: KeyPath, report: Report): string | null {
  if (expr === null || expr.trim() === '') return null;
  if (!cron.validate(expr)) report(at, `"${expr}" is not a cron schedule; write five or six fields, e.g. "0 */2 * * *" (every two hours)`);
  return expr;
}

function unit<T, F>(parsed: { ok: true; value: T } | { ok: false; message: string }, at: KeyPath, report: Report, fallback: F): T | F {
  if (parsed.ok) return parsed.value;
  report(at, parsed.message);
  return fallback;
}

function everyText(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (value === null || value === false) return 'never';
  return String(value).trim();
}

function namedGroups(re: RegExp): string[] {
  // A regex's named groups show up on a match of the empty alternative.
  return Object.keys(new RegExp(`${re.source}|`).exec('')?.groups ?? {});
}

/** Absolute path for a config value: `~/x` is under home, relative is under the config's folder. */
export function resolvePath(value: string, base: PathBase): string {
  if (value === '~') return base.home;
  if (value.startsWith('~/')) return path.join(base.home, value.slice(2));
  return path.resolve(base.dir, value);
}

function suggestName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'my-run';
}
