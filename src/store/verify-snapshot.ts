/**
 * Verifying what a store holds against its manifests: every stored file is re-read and re-hashed
 * (sha256 and size), symlinks are compared by target (never followed), and files that are on disk
 * but not in the manifest are listed. Large files are hashed two at a time on worker threads, the
 * rest streamed through two fixed buffers, so memory does not grow with file size. Nothing is written here (see `damaged-marker.ts` for the marking).
 *
 * Over 300 lines on purpose: snapshots and saves are verified by one walk with one set of rules
 * (hash, size, target, extra files), which two files would let drift apart.
 */
import { createHash } from 'node:crypto';
import fs, { type Stats } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { runPools } from '../util/run-pools.js';
import { SMALL_FILE } from './capture-file.js';
import { withPath } from './errors.js';
import { HASH_WORKERS, hashOpenFileOnWorker, ShortReadError } from './hash-workers.js';
import { isValidId } from './ids.js';
import { isSafeRelPath, snapshotFilesDir } from './layout.js';
import type { ManifestEntry, RecordKind, SaveMeta, SnapshotMeta } from './types.js';

/** A stored file that is there but differs from its manifest entry, and how. */
export interface ChangedFile {
  path: string;
  /** e.g. `sha256 differs`, `size 12, manifest says 10`, `symlink target "b", manifest says "a"`. */
  reason: string;
}

/** The outcome of verifying one snapshot or save. Paths are the manifest's relative paths. */
export interface VerifyResult {
  id: string;
  kind: RecordKind;
  /** True when nothing is missing, changed or extra. */
  ok: boolean;
  /** In the manifest, not on disk. */
  missing: string[];
  changed: ChangedFile[];
  /** On disk, not in the manifest (a folder that holds nothing of the manifest ends in `/`). */
  extra: string[];
  /** Entries in the manifest. */
  files: number;
  /** Bytes read and hashed. */
  bytesHashed: number;
}

/**
 * Reports progress: bytes of regular files done, whether hashed or counted done without being
 * read (missing, wrong size or type). Over one verification the calls add up to the manifest's
 * regular-file bytes (more when a file grew past its recorded size). Symlinks are not counted.
 */
export type OnBytes = (n: number) => void;

const CHUNK = 4 << 20;

/**
 * Verifies snapshot `meta.id` of `store`: each manifest entry of `snapshot.json` against
 * `<store>/snapshots/<id>/files/` (the folder is derived from the store and id, not `meta.path`).
 * Regular files must be regular files of the recorded size and sha256; symlinks must be symlinks
 * with the recorded target whose sha256 is the recorded one. Anything else under `files/`
 * (walked with lstat, never through symlinks) is `extra`. A path reached through a folder that has
 * become a symlink or a file counts as changed and is not read. Read errors such as EIO make a
 * file `changed` ("cannot be read"); EACCES/EPERM (the caller may not read the store) throw,
 * as does an invalid id: those are not a verdict on the snapshot.
 */
export async function verifySnapshot(store: string, meta: SnapshotMeta, onBytes?: OnBytes): Promise<VerifyResult> {
  if (!isValidId(meta.id)) throw new Error(`refusing to verify ${JSON.stringify(meta.id)}: not a valid snapshot id`);
  const result = emptyResult(meta.id, meta.kind, meta.files.length);
  await verifyTree(snapshotFilesDir(store, meta.id), meta.files, result, onBytes);
  return finish(result);
}

/**
 * Verifies save `meta.id`: its exported file (`meta.path`, when the record lists one file) or the
 * files of its exported folder (`meta.path/<files[].path>`, with anything else in that folder
 * reported as `extra`), against the record's sizes and sha256. Errors as in `verifySnapshot`;
 * a record whose `path` is not absolute throws.
 */
export async function verifySave(store: string, meta: SaveMeta, onBytes?: OnBytes): Promise<VerifyResult> {
  void store;
  if (!isValidId(meta.id)) throw new Error(`refusing to verify ${JSON.stringify(meta.id)}: not a valid save id`);
  if (!path.isAbsolute(meta.path)) throw new Error(`save ${meta.id}: its record names a relative path ${JSON.stringify(meta.path)}`);
  const result = emptyResult(meta.id, 'save', meta.files.length);
  const hasher = new Hasher();
  // writeSave exports one model file as the file itself, several as a folder of them.
  if (meta.files.length === 1) await checkEntry(meta.path, meta.files[0]!, result, hasher, onBytes);
  else await verifyTree(meta.path, meta.files, result, onBytes, hasher);
  return finish(result);
}

function emptyResult(id: string, kind: RecordKind, files: number): VerifyResult {
  return { id, kind, ok: false, missing: [], changed: [], extra: [], files, bytesHashed: 0 };
}

function finish(r: VerifyResult): VerifyResult {
  r.missing.sort();
  r.changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  r.extra.sort();
  r.ok = r.missing.length === 0 && r.changed.length === 0 && r.extra.length === 0;
  return r;
}

/** Checks every entry under `root`, then lists what `root` holds beyond them. */
async function verifyTree(root: string, files: ManifestEntry[], result: VerifyResult, onBytes?: OnBytes, hasher = new Hasher()): Promise<void> {
  const rootSt = await lstatOrNull(root);
  if (rootSt === null || !rootSt.isDirectory()) {
    for (const f of files) {
      if (rootSt === null) result.missing.push(f.path);
      else result.changed.push({ path: f.path, reason: `${root} is ${describe(rootSt)}, not a folder` });
      if (f.type !== 'symlink') onBytes?.(f.size);
    }
    return;
  }
  const folders = new FolderCheck(root);
  const checkOne = async (f: ManifestEntry): Promise<void> => {
    if (!isSafeRelPath(f.path)) {
      result.changed.push({ path: f.path, reason: 'unsafe path in the manifest; not checked' });
      if (f.type !== 'symlink') onBytes?.(f.size);
      return;
    }
    const bad = await folders.problem(path.posix.dirname(f.path));
    if (bad !== null) {
      if (bad.missing) result.missing.push(f.path);
      else result.changed.push({ path: f.path, reason: bad.reason });
      if (f.type !== 'symlink') onBytes?.(f.size);
      return;
    }
    await checkEntry(path.join(root, f.path), f, result, hasher, onBytes);
  };
  // Large files two at a time, hashed on worker threads (two cores); the rest one after another
  // through the hasher's buffers. `finish` sorts the findings, so the order of work does not show.
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  await runPools(
    [
      { items: sorted.filter((f) => !isLarge(f)), parallel: 1 },
      { items: sorted.filter(isLarge), parallel: HASH_WORKERS },
    ],
    checkOne,
  );
  result.extra.push(...(await findExtra(root, files)));
}

/** Files hashed on a worker (`hashOpenFileOnWorker`) rather than through the hasher's buffers. */
function isLarge(f: ManifestEntry): boolean {
  return f.type !== 'symlink' && f.size > SMALL_FILE;
}

/** Checks one stored file (or symlink) at the absolute path `file` against its manifest entry. */
async function checkEntry(file: string, f: ManifestEntry, result: VerifyResult, hasher: Hasher, onBytes?: OnBytes): Promise<void> {
  const changed = (reason: string): void => {
    result.changed.push({ path: f.path, reason });
  };
  const skipBytes = (): void => {
    if (f.type !== 'symlink') onBytes?.(f.size);
  };
  const st = await lstatOrNull(file);
  if (st === null) {
    result.missing.push(f.path);
    return skipBytes();
  }
  if (f.type === 'symlink') {
    if (!st.isSymbolicLink()) return changed(`is ${describe(st)}, not a symlink`);
    const target = await fsp.readlink(file).catch((err: unknown) => Promise.reject(withPath(err, 'reading the link', file)));
    if (f.target !== undefined && target !== f.target) return changed(`symlink target ${JSON.stringify(target)}, manifest says ${JSON.stringify(f.target)}`);
    if (sha256Text(target) !== f.sha256) return changed('sha256 of the symlink target differs');
    return;
  }
  if (!st.isFile()) {
    changed(`is ${describe(st)}, not a regular file`);
    return skipBytes();
  }
  if (st.size !== f.size) {
    changed(`size ${st.size}, manifest says ${f.size}`);
    return skipBytes();
  }
  let hashed: { sha256: string; size: number };
  try {
    hashed = await hasher.hash(file, isLarge(f), (n) => {
      result.bytesHashed += n;
      onBytes?.(n);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw withPath(err, 'reading', file);
    // Replaced between the lstat and the open: report what it is now, never follow it.
    if (code === 'ENOENT') result.missing.push(f.path);
    else if (code === 'ELOOP') changed('is a symlink, not a regular file');
    else if (code === 'ENOTFILE') changed('is not a regular file');
    else changed(`cannot be read (${code ?? (err as Error).message})`);
    return;
  }
  if (hashed.size !== f.size) return changed(`size ${hashed.size}, manifest says ${f.size}`);
  if (hashed.sha256 !== f.sha256) return changed('sha256 differs');
}

/**
 * What `root` holds that the manifest does not: files, symlinks and other entries by path, and
 * folders that contain nothing of the manifest as `folder/` (not descended into). Never follows
 * symlinks; an unreadable folder throws.
 */
async function findExtra(root: string, files: ManifestEntry[]): Promise<string[]> {
  const listed = new Set(files.map((f) => f.path));
  const folders = new Set<string>();
  for (const f of files) for (let d = path.posix.dirname(f.path); d !== '.' && d !== '/'; d = path.posix.dirname(d)) folders.add(d);
  const extra: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : path.join(root, rel);
    let dirents: fs.Dirent[];
    try {
      dirents = await fsp.readdir(abs, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw withPath(err, 'reading the folder', abs);
    }
    for (const d of dirents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      // Dirent types come from readdir (lstat semantics): a symlink to a folder is not a folder.
      if (d.isDirectory() && folders.has(r)) await walk(r);
      else if (!listed.has(r)) extra.push(d.isDirectory() ? `${r}/` : r);
    }
  };
  await walk('');
  return extra;
}

/** Checks, once per folder, that each folder on the way to a stored file is a real folder. */
class FolderCheck {
  private readonly seen = new Map<string, Promise<{ missing: boolean; reason: string } | null>>();
  constructor(private readonly root: string) {}

  /** Null when `rel` (and every folder above it) is a real folder under the root. */
  problem(rel: string): Promise<{ missing: boolean; reason: string } | null> {
    if (rel === '.' || rel === '') return Promise.resolve(null);
    let p = this.seen.get(rel);
    if (!p) {
      p = this.problem(path.posix.dirname(rel)).then(async (above) => {
        if (above !== null) return above;
        const st = await lstatOrNull(path.join(this.root, rel));
        if (st === null) return { missing: true, reason: `folder ${rel} is missing` };
        if (!st.isDirectory()) return { missing: false, reason: `folder ${rel} is now ${describe(st)}` };
        return null;
      });
      this.seen.set(rel, p);
    }
    return p;
  }
}

/** sha256 of whole files through two reused buffers: the next read runs while one chunk is hashed. */
class Hasher {
  private bufs: Buffer[] | null = null;

  /**
   * sha256 and size of the whole file: on a worker thread when `large` (any number of these may run
   * at once), else through this hasher's two buffers (one call at a time).
   */
  async hash(file: string, large: boolean, onBytes: (n: number) => void): Promise<{ sha256: string; size: number }> {
    // O_NOFOLLOW: a symlink swapped in is not followed; O_NONBLOCK: a FIFO swapped in cannot hang us.
    const fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTFILE' });
      if (large) return await hashOnWorker(fh, st.size, onBytes);
      const hash = createHash('sha256');
      if (st.size === 0) {
        // A file that is empty by stat may still have grown since; one read tells.
        const probe = Buffer.alloc(1);
        const { bytesRead } = await fh.read(probe, 0, 1, 0);
        if (bytesRead === 0) return { sha256: hash.digest('hex'), size: 0 };
      }
      this.bufs ??= [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
      const [a, b] = this.bufs as [Buffer, Buffer];
      let pos = 0;
      let cur = a;
      let reading = fh.read(cur, 0, CHUNK, 0);
      try {
        for (;;) {
          const { bytesRead } = await reading;
          if (bytesRead === 0) break;
          const next = cur === a ? b : a;
          reading = fh.read(next, 0, CHUNK, pos + bytesRead);
          reading.catch(() => undefined);
          hash.update(cur.subarray(0, bytesRead));
          onBytes(bytesRead);
          pos += bytesRead;
          cur = next;
        }
      } finally {
        await reading.catch(() => undefined);
      }
      return { sha256: hash.digest('hex'), size: pos };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw withPath(err, 'checking', p);
  }
}

function describe(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a folder';
  if (st.isFile()) return 'a regular file';
  return 'a special file';
}

function sha256Text(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** `Hasher.hash` of a large open file: hashed on a worker; a file that ended early or grew reports its size (and no hash). */
async function hashOnWorker(fh: FileHandle, size: number, onBytes: (n: number) => void): Promise<{ sha256: string; size: number }> {
  let sha256: string;
  try {
    sha256 = await hashOpenFileOnWorker(fh.fd, size, onBytes);
  } catch (err) {
    if (err instanceof ShortReadError) return { sha256: '', size: err.at };
    throw err;
  }
  const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, size);
  if (bytesRead > 0) return { sha256: '', size: Math.max(size + 1, (await fh.stat()).size) };
  return { sha256, size };
}
