/**
 * Reading a config file: YAML (with positions) → shape check (zod) → normalized `Config`.
 * Every problem comes back located as `FILE:LINE:COL key.path: message`, with "did you mean"
 * for unknown keys, and a pointer to the AWS SDK's credential chain (never the value) for an
 * unknown key that looks like a credential.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { credentialKeyMessage, looksLikeCredential } from './credential-keys.js';
import { didYouMean } from './near-key.js';
import { normalizeConfig } from './normalize.js';
import { configSchema, knownKeysAt } from './schema.js';
import { runPlaceProblems } from './run-places.js';
import type { Config, ConfigProblem, RunConfig } from './types.js';
import { parseDuration, parseEvery, parseRate, parseSize, type Parsed } from './units.js';
import { readYaml } from './yaml-document.js';
import { positionOf, renderKeyPath, type KeyPath } from './yaml-positions.js';

export { MAX_ALIAS_EXPANSIONS } from './yaml-document.js';

/**
 * Parses and validates config text. `file` names it in messages and anchors relative paths
 * (its folder); `home` expands `~`.
 */
export function parseConfigText(text: string, file: string, home: string = os.homedir()): { config: Config } | { problems: ConfigProblem[] } {
  const yaml = readYaml(text);
  if ('problems' in yaml) {
    return {
      problems: yaml.problems.map((p) => {
        const pos = yaml.lines.linePos(p.offset);
        return { file, line: pos.line, col: pos.col, keyPath: p.keyPath ? renderKeyPath(p.keyPath) : '(yaml)', message: p.message };
      }),
    };
  }
  const { doc, lines, data } = yaml;
  const at = (keyPath: KeyPath, message: string, where: 'key' | 'value' = 'value'): ConfigProblem => ({
    file,
    ...positionOf(doc, lines, keyPath, where),
    keyPath: renderKeyPath(keyPath),
    message,
  });
  if (data === null || data === undefined) {
    return { problems: [at([], 'the file is empty; it needs a `runs:` list (write a starter with `ckptd init`)')] };
  }
  const shaped = configSchema.safeParse(data);
  if (shaped.success) {
    const normalized = normalizeConfig(shaped.data, file, { dir: path.dirname(file), home });
    if ('problems' in normalized) return { problems: normalized.problems.map((p) => at(p.keyPath, p.message)) };
    return normalized;
  }
  const problems = shaped.error.issues.flatMap((issue) => describeIssue(issue, data, at));
  // When the only shape problems are unknown keys, check the rest too, so one run of check-config
  // shows every problem (a typo'd key and a bad value below it).
  if (shaped.error.issues.every((i) => i.code === 'unrecognized_keys')) {
    const rest = configSchema.safeParse(withoutKeys(data, shaped.error.issues));
    if (rest.success) {
      const normalized = normalizeConfig(rest.data, file, { dir: path.dirname(file), home });
      if ('problems' in normalized) problems.push(...normalized.problems.map((p) => at(p.keyPath, p.message)));
    }
  }
  return { problems: problems.sort((a, b) => a.line - b.line || a.col - b.col) };
}

/** A deep copy of `data` without the unknown keys the issues name. */
function withoutKeys(data: unknown, issues: z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(data);
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const parent = valueAt(copy, issue.path.filter((s): s is string | number => typeof s !== 'symbol'));
    if (parent !== null && typeof parent === 'object') for (const k of issue.keys) delete (parent as Record<string, unknown>)[k];
  }
  return copy;
}

/** Reads and validates a config file; throws `ConfigError` with every problem (or the read error). */
export function loadConfigFile(file: string): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readConfigText(abs);
  } catch (err) {
    throw new ConfigError([{ file: abs, line: 1, col: 1, keyPath: UNREADABLE_KEY, message: `cannot read the config: ${whyUnreadable(abs, err)}` }]);
  }
  const result = parseConfigText(text, abs);
  if ('problems' in result) throw new ConfigError(result.problems);
  return result.config;
}

/**
 * The problems of the places `runs` name (`run-places.ts`: a file, no permission, a link loop),
 * located in the config file as `FILE:LINE:COL runs.N.path: message`; empty when every place can
 * be used. Reads the file system, and the config file again to locate problems when there are any
 * (a run is found there by name: `ckptd run` passes a config of its one run).
 */
export function placeProblems(config: Config, runs: readonly RunConfig[] = config.runs): ConfigProblem[] {
  const found = runs.flatMap((run) => runPlaceProblems(run).map((p) => ({ name: run.name, ...p })));
  if (found.length === 0) return [];
  const file = config.file ?? '(command line)';
  let yaml: ReturnType<typeof readYaml> | null = null;
  try {
    if (config.file !== null) yaml = readYaml(readConfigText(config.file));
  } catch {
    // Changed or gone since it was loaded: the problems are still true, only not located.
  }
  const located = yaml !== null && 'doc' in yaml ? yaml : null;
  return found.map(({ name, keyPath, reason, fix }) => {
    const inFile = located ? runIndexByName(located.data, name) : -1;
    const full = ['runs', inFile >= 0 ? inFile : config.runs.findIndex((r) => r.name === name), ...keyPath];
    const pos = located ? positionOf(located.doc, located.lines, full) : { line: 1, col: 1 };
    return { file, ...pos, keyPath: renderKeyPath(full), message: `${reason}; ${fix}` };
  });
}

function runIndexByName(data: unknown, name: string): number {
  const runs = valueAt(data, ['runs']);
  return Array.isArray(runs) ? runs.findIndex((r) => valueAt(r, ['name']) === name) : -1;
}

/** The key path of the problem `loadConfigFile` reports when it cannot read the file at all. */
export const UNREADABLE_KEY = '(file)';

/** A config is a few KB; past this it is not one (and reading it whole would take the memory). */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The text of config file `file`, only when it is a regular file of at most `MAX_CONFIG_BYTES`:
 * opened without blocking and checked through its descriptor, so a FIFO or a device (`/dev/zero`)
 * never hangs the reader, even one swapped in after a look at the path.
 */
function readConfigText(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('it is a folder, not a file'), { code: 'EISDIR' });
    if (!st.isFile()) throw new Error('it is not a regular file (a pipe, a socket or a device); point --config at a YAML file');
    if (st.size > MAX_CONFIG_BYTES) throw new Error(`it is ${st.size} bytes, over the ${MAX_CONFIG_BYTES} a config may have; is it the right file?`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function whyUnreadable(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    let target: string | null = null;
    try {
      target = fs.readlinkSync(file);
    } catch {
      // Not a link: the file itself is missing.
    }
    return target === null ? 'no such file' : `it is a symbolic link to ${target}, which does not exist`;
  }
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder, not a file';
  return (err as Error).message;
}

type Locate = (keyPath: KeyPath, message: string, where?: 'key' | 'value') => ConfigProblem;

/** The parser of each key whose value has a grammar the schema takes as a union (text or number). */
const GRAMMAR_OF: Partial<Record<string, (value: unknown) => Parsed<unknown>>> = {
  every: parseEvery,
  settle: (v) => parseDuration(v),
  min_age: (v) => parseDuration(v),
  max_size: parseSize,
  min_free: parseSize,
  bandwidth: parseRate,
};

function describeIssue(issue: z.core.$ZodIssue, data: unknown, at: Locate): ConfigProblem[] {
  const keyPath = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        if (looksLikeCredential(key)) return at([...keyPath, key], credentialKeyMessage(key), 'key');
        const known = knownKeysAt(keyPath);
        const hint = didYouMean(key, known) || (known.length > 0 ? ` (known keys: ${known.join(', ')})` : '');
        return at([...keyPath, key], `unknown key "${key}"${hint}`, 'key');
      });
    case 'invalid_type': {
      const value = valueAt(data, keyPath);
      if (value === undefined) return [at(keyPath, `is required (${expectedText(issue.expected, keyPath)})`)];
      return [at(keyPath, `must be ${expectedText(issue.expected, keyPath)}, not ${describe(value)}${listFix(issue.expected, value)}`)];
    }
    case 'invalid_value':
      return [at(keyPath, `must be one of ${issue.values.map((v) => String(v)).join(', ')}, not ${describe(valueAt(data, keyPath))}`)];
    case 'too_small':
      if (keyPath.length === 1 && keyPath[0] === 'runs') return [at(keyPath, 'needs at least one run (name and path)')];
      return [at(keyPath, `must be at least ${String(issue.minimum)}, not ${describe(valueAt(data, keyPath))}`)];
    case 'too_big':
      return [at(keyPath, `must be at most ${String(issue.maximum)}, not ${describe(valueAt(data, keyPath))}`)];
    case 'invalid_union': {
      // The key's own parser says what it takes (a duration, a size, a schedule...).
      const value = valueAt(data, keyPath);
      const parse = GRAMMAR_OF[String(keyPath[keyPath.length - 1])];
      const parsed = parse?.(value);
      return [at(keyPath, parsed !== undefined && !parsed.ok ? parsed.message : `${describe(value)} is not valid here`)];
    }
    default:
      return [at(keyPath, issue.message)];
  }
}

function expectedText(expected: string, keyPath: KeyPath): string {
  const last = keyPath[keyPath.length - 1];
  if (last === 'runs') return 'a list of runs, each with a name and a path';
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object': {
      const known = knownKeysAt(keyPath);
      return known.length > 0 ? `a mapping of keys (${known.join(', ')})` : 'a mapping of keys';
    }
    default:
      return expected;
  }
}

/** The fix for one text where a list is expected (`files: "*.pt"`): `; write ["*.pt"]`; else ''. */
function listFix(expected: string, value: unknown): string {
  return expected === 'array' && typeof value === 'string' ? `; write [${JSON.stringify(value)}]` : '';
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function valueAt(data: unknown, keyPath: KeyPath): unknown {
  let cur: unknown = data;
  for (const s of keyPath) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}
