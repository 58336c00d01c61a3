/**
 * Reading one stored file of a local store's record (a snapshot's `files/`, a save's export) for
 * `Store.openFile`, `Store.copyFileOut` and `Store.readLink`. Every folder between the record's
 * root and the file is checked with lstat (`walkInside`), and the file itself is opened without
 * following a symlink: a tampered store cannot make a reader read outside it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { captureFile } from './capture-file.js';
import { isValidId } from './ids.js';
import { isSafeRelPath, snapshotFilesDir } from './layout.js';
import { walkInside } from './safe-dir.js';
import type { ManifestEntry, RecordMeta, ScanEntry } from './types.js';

/** The manifest entry of `relPath` in `record` and the stored file's absolute path (null: a folder on the way is missing). */
async function locate(root: string, record: RecordMeta, relPath: string): Promise<{ entry: ManifestEntry; abs: string | null }> {
  if (!isValidId(record.id)) throw new Error(`invalid id ${JSON.stringify(record.id)}`);
  const entry = record.files.find((f) => f.path === relPath);
  if (entry === undefined || !isSafeRelPath(relPath)) throw new Error(`${record.kind} ${record.id} holds no file ${JSON.stringify(relPath)}`);
  if (record.kind === 'save' && record.files.length === 1) return { entry, abs: record.path };
  const base = record.kind === 'save' ? record.path : snapshotFilesDir(root, record.id);
  const real = await fsp.realpath(base).catch(() => null);
  if (real === null) return { entry, abs: null };
  const dir = await walkInside(real, path.posix.dirname(relPath));
  return { entry, abs: dir === null ? null : path.join(dir, path.posix.basename(relPath)) };
}

function missing(record: RecordMeta, relPath: string): Error {
  return new Error(`${record.kind} ${record.id} is damaged: ${relPath} is missing from the store. Run \`ckptd verify ${record.id}\``);
}

/**
 * The absolute path of the stored regular file `relPath` of `record` in the local store `root`
 * (every folder on the way checked with lstat). Throws when `relPath` is not a regular file of the
 * record's manifest or a folder on the way is missing; the file itself is not opened here.
 */
export async function locateFile(root: string, record: RecordMeta, relPath: string): Promise<string> {
  const { entry, abs } = await locate(root, record, relPath);
  if (entry.type === 'symlink') throw new Error(`${relPath} of ${record.kind} ${record.id} is a symlink to ${JSON.stringify(entry.target)}, not a file`);
  if (abs === null) throw missing(record, relPath);
  return abs;
}

/** `Store.openFile` of the local store in `root`. */
export async function openStoredFile(root: string, record: RecordMeta, relPath: string): Promise<Readable> {
  const fh = await fsp.open(await locateFile(root, record, relPath), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  return fh.createReadStream();
}

/** `Store.copyFileOut` of the local store in `root`: the capture copy (hashed, sparse-aware, fsynced). */
export async function copyStoredFile(
  root: string,
  record: RecordMeta,
  relPath: string,
  dest: string,
  opts: { mode: number; onBytes?: (n: number) => void },
): Promise<{ sha256: string; size: number }> {
  const abs = await locateFile(root, record, relPath);
  const st = await fsp.lstat(abs, { bigint: true }).catch(() => null);
  if (!st?.isFile()) throw missing(record, relPath);
  // The stored file as it is now is the version to copy; captureFile checks it stays so during the copy.
  const entry: ScanEntry = { path: relPath, type: 'file', size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: Number(st.ino), mode: Number(st.mode & 0o7777n) };
  const copy = await captureFile(abs, dest, entry, { mode: opts.mode, ...(opts.onBytes ? { onBytes: opts.onBytes } : {}) });
  return { sha256: copy.sha256, size: copy.size };
}

/** `Store.readLink` of the local store in `root`. */
export async function readStoredLink(root: string, record: RecordMeta, relPath: string): Promise<string> {
  const { entry, abs } = await locate(root, record, relPath);
  if (entry.type !== 'symlink') throw new Error(`${relPath} of ${record.kind} ${record.id} is not a symlink`);
  const target = abs === null ? null : await fsp.readlink(abs).catch(() => null);
  if (target === null) throw new Error(`${record.kind} ${record.id} is damaged: the symlink ${relPath} is missing from the store. Run \`ckptd verify ${record.id}\``);
  return target;
}
