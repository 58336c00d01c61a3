/**
 * What makes a record valid, whatever store it was read from (a local `snapshot.json` or save
 * record, a remote manifest object), and resolving an id or unique prefix among records. Pure: the
 * readers fetch the JSON, these judge it. A record naming an unsafe path or a malformed sha256 is
 * not a record: the sha256 names an object in a remote store and a path a file in a restore.
 */
import { isValidId, isValidIdPrefix } from './ids.js';
import { isSafeRelPath } from './layout.js';
import type { ManifestEntry, SaveMeta, SnapshotMeta } from './types.js';

const SHA256 = /^[0-9a-f]{64}$/;

/** The problem with manifest entry `f`, or null when it is a valid one. */
export function entryProblem(f: unknown): string | null {
  if (!isObject(f)) return 'a file entry is not an object';
  const e = f as Partial<ManifestEntry>;
  if (typeof e.path !== 'string' || !isSafeRelPath(e.path)) return `a file entry has an unsafe path ${JSON.stringify(e.path)}`;
  if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) return `${e.path} has no valid sha256`;
  if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) return `${e.path} has no valid size`;
  if (e.type === 'symlink' && typeof e.target !== 'string') return `${e.path} is a symlink without a target`;
  return null;
}

function filesProblem(files: unknown): string | null {
  if (!Array.isArray(files)) return 'lacks files';
  for (const f of files) {
    const p = entryProblem(f);
    if (p !== null) return p;
  }
  return null;
}

/**
 * `value` as snapshot `id` (`where` names the file for messages), or the problem with it.
 * `entriesChecked`, when given, is what `entryProblem` said of the first bad entry of its files
 * (null: none), for a reader that checked them as it read them (`readSnapshotJson`).
 */
export function checkSnapshotRecord(value: unknown, id: string, where = 'snapshot.json', entriesChecked?: string | null): { meta: SnapshotMeta } | { problem: string } {
  const m = value as Partial<SnapshotMeta>;
  if (!isObject(m) || m.id !== id) return { problem: `${where} names id ${JSON.stringify(isObject(m) ? m.id : undefined)}, not ${id}` };
  if (m.format !== 1) return { problem: `${where} has unknown format ${JSON.stringify(m.format)}` };
  if (!Array.isArray(m.files) || typeof m.kind !== 'string' || typeof m.created !== 'string') return { problem: `${where} lacks files, kind or created` };
  const files = entriesChecked !== undefined ? entriesChecked : filesProblem(m.files);
  if (files !== null) return { problem: `${where}: ${files}` };
  return { meta: m as SnapshotMeta };
}

/**
 * The key of a local save record that holds when the save was committed (its record's ctime then,
 * ns as a decimal string): a label change replaces the record, and with it that ctime, which
 * `deleteSave` checks the exports against. Written by `writeSave` (when the export was placed), else by
 * the first label change or the sweep that completes a save; no reader shows it.
 */
export const COMMITTED_CTIME_KEY = 'committed_ctime_ns';

/** `value` as save record `id` (without `COMMITTED_CTIME_KEY`), or the problem with it. */
export function checkSaveRecord(value: unknown, id: string): { meta: SaveMeta } | { problem: string } {
  const m = value as Partial<SaveMeta>;
  if (!isObject(m) || m.id !== id || m.kind !== 'save') return { problem: `record is not save ${id}` };
  if (m.format !== 1 || !Array.isArray(m.files) || typeof m.path !== 'string') return { problem: 'record lacks format, files or path' };
  const files = filesProblem(m.files);
  if (files !== null) return { problem: `record: ${files}` };
  const { [COMMITTED_CTIME_KEY]: _committed, ...meta } = m as Record<string, unknown>;
  return { meta: meta as unknown as SaveMeta };
}

/** The message for an id or prefix that is not `[0-9a-z-]`. */
export function invalidIdMessage(s: string): string {
  return `invalid id ${JSON.stringify(s)}: ids are made of lowercase letters, digits and "-" (e.g. 20261122-153802-123-a1b2)`;
}

/**
 * The record of `all` whose id is `idOrPrefix`, or the only one whose id starts with it. Throws for
 * an invalid prefix, `no snapshot or save matches ... in <location>` for none, and names the
 * candidates when several match.
 */
export function resolveAmong<T extends { id: string; kind: string }>(all: readonly T[], idOrPrefix: string, location: string): T {
  if (!isValidIdPrefix(idOrPrefix)) throw new Error(invalidIdMessage(idOrPrefix));
  const exact = all.find((r) => r.id === idOrPrefix);
  if (exact) return exact;
  const matches = all.filter((r) => r.id.startsWith(idOrPrefix)).sort((a, b) => (a.id < b.id ? -1 : 1));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new Error(`no snapshot or save matches "${idOrPrefix}" in ${location}`);
  throw new Error(`"${idOrPrefix}" is ambiguous: it matches ${matches.length} ids: ${matches.map((m) => `${m.id} (${m.kind})`).join(', ')}; give more characters`);
}

/** True for a valid record id (re-exported for the readers). */
export { isValidId };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
