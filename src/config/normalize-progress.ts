/**
 * The `progress` key: where a run's epoch, step and loss come from. Contract: `auto`, `none`/null,
 * a preset name, `{file, epoch, step, loss}` (a JSON or YAML file inside the run, key paths into
 * it) or `{filename: REGEX}` (named groups epoch, step, loss) becomes a `ProgressSpec`; anything
 * else is reported, each wrong part at its own key, and normalizes to `{ kind: 'none' }` so the
 * rest of the config is still checked. An `init --preset` name that is not a progress source
 * (`generic`) gets its own message saying what to write instead.
 */
import path from 'node:path';
import { parseKeyPath } from '../policy/key-path.js';
import { INIT_PRESETS } from './presets.js';
import type { Report } from './problems.js';
import type { ProgressSpec } from './types.js';
import type { KeyPath } from './yaml-positions.js';

const PRESET_NAMES = ['hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl'] as const;

/** The progress spec the value names, or `none` after reporting what is wrong with it. */
export function normalizeProgress(value: unknown, at: KeyPath, report: Report): ProgressSpec {
  const choices = `auto, none, ${PRESET_NAMES.join(', ')}, {file, epoch, step, loss} or {filename: REGEX}`;
  if (value === null || value === 'none') return { kind: 'none' };
  if (value === 'auto') return { kind: 'auto' };
  if (typeof value === 'string') {
    if ((PRESET_NAMES as readonly string[]).includes(value)) return { kind: 'preset', preset: value as (typeof PRESET_NAMES)[number] };
    if ((INIT_PRESETS as readonly string[]).includes(value)) {
      report(
        at,
        `"${value}" is a preset of \`ckptd init --preset\`, not a progress source; write progress: auto (tries each trainer preset), a trainer preset (${PRESET_NAMES.join(', ')}), {file, epoch, step, loss} or {filename: REGEX}`,
      );
      return { kind: 'none' };
    }
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

/** The names of a regex's named groups. */
export function namedGroups(re: RegExp): string[] {
  // A regex's named groups show up on a match of the empty alternative.
  return Object.keys(new RegExp(`${re.source}|`).exec('')?.groups ?? {});
}
