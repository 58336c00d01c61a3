/**
 * An independent verifier of a ckptd store, written from SPEC section 5 alone: it imports nothing
 * from `src/`, so a bug in ckptd's own reading or hashing code cannot hide a damaged snapshot.
 *
 * A snapshot is a folder `<store>/snapshots/<id>/` holding `snapshot.json` and `files/`. It verifies
 * when `snapshot.json` names `id`, every manifest entry exists under `files/` with the recorded
 * type, size and sha256 (of the bytes; of the target string for a symlink, whose target must match),
 * nothing else is under `files/`, stored files have no write bit, and no folder of the snapshot is
 * group- or other-writable.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** One manifest entry as SPEC section 5 describes it. */
export interface OracleFile {
  path: string;
  size: number;
  sha256: string;
  mode: number;
  type?: 'symlink';
  target?: string;
}

/** What `snapshot.json` holds, as far as the oracle relies on it. */
export interface OracleSnapshot {
  id: string;
  kind: string;
  name: string | null;
  bytes: number;
  files: OracleFile[];
  skipped?: { path: string; reason: string }[];
  [key: string]: unknown;
}

export interface OracleReport {
  /** Snapshots whose `snapshot.json` could be read, by id (sorted), verified or not. */
  snapshots: OracleSnapshot[];
  /** Folders of `snapshots/` without a readable `snapshot.json`: a half-written snapshot made visible. */
  incomplete: string[];
  /** Every way a snapshot differs from its manifest, one line each; empty when the store verifies. */
  problems: string[];
}

/** sha256 (hex) of a file, read in 1 MiB pieces (stored files may be large). */
export function sha256OfFile(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Every file, symlink and folder under `root` (relative POSIX paths), never following symlinks. */
export function walk(root: string): { files: Map<string, fs.Stats>; dirs: Map<string, fs.Stats> } {
  const files = new Map<string, fs.Stats>();
  const dirs = new Map<string, fs.Stats>();
  const visit = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        dirs.set(r, st);
        visit(r);
      } else files.set(r, st);
    }
  };
  visit('');
  return { files, dirs };
}

/** Re-reads and re-hashes every snapshot of `store` (see the file comment). */
export function verifyStore(store: string): OracleReport {
  const report: OracleReport = { snapshots: [], incomplete: [], problems: [] };
  const snapshotsDir = path.join(store, 'snapshots');
  if (!fs.existsSync(snapshotsDir)) return report;
  for (const id of fs.readdirSync(snapshotsDir).sort()) {
    const dir = path.join(snapshotsDir, id);
    const problem = (text: string): void => void report.problems.push(`${id}: ${text}`);
    let meta: OracleSnapshot;
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, 'snapshot.json'), 'utf8')) as OracleSnapshot;
    } catch (err) {
      report.incomplete.push(`${id}: ${(err as Error).message}`);
      continue;
    }
    report.snapshots.push(meta);
    if (meta.id !== id) problem(`snapshot.json names id ${String(meta.id)}`);
    if (!Array.isArray(meta.files)) {
      problem('snapshot.json has no files list');
      continue;
    }
    const filesDir = path.join(dir, 'files');
    if (!fs.existsSync(filesDir)) {
      problem('files/ is missing');
      continue;
    }
    for (const [rel, st] of [['.', fs.lstatSync(dir)], ['files', fs.lstatSync(filesDir)]] as const) {
      if (st.mode & 0o022) problem(`folder ${rel} is group/other-writable (${(st.mode & 0o777).toString(8)})`);
    }
    const found = walk(filesDir);
    for (const [rel, st] of found.dirs) if (st.mode & 0o022) problem(`folder files/${rel} is group/other-writable (${(st.mode & 0o777).toString(8)})`);
    const listed = new Set(meta.files.map((f) => f.path));
    for (const rel of found.files.keys()) if (!listed.has(rel)) problem(`files/${rel} is not in the manifest`);
    let bytes = 0;
    for (const f of meta.files) {
      bytes += f.size;
      const st = found.files.get(f.path);
      if (st === undefined) {
        problem(`${f.path} is in the manifest but missing from files/`);
        continue;
      }
      const abs = path.join(filesDir, f.path);
      if (f.type === 'symlink') {
        if (!st.isSymbolicLink()) {
          problem(`${f.path} should be a symlink`);
          continue;
        }
        const target = fs.readlinkSync(abs);
        if (target !== f.target) problem(`${f.path} links to ${target}, manifest says ${String(f.target)}`);
        if (createHash('sha256').update(target).digest('hex') !== f.sha256) problem(`${f.path}: sha256 of the link target differs`);
        continue;
      }
      if (!st.isFile()) {
        problem(`${f.path} is not a regular file`);
        continue;
      }
      if (st.size !== f.size) problem(`${f.path} has ${st.size} bytes, manifest says ${f.size}`);
      else if (sha256OfFile(abs) !== f.sha256) problem(`${f.path}: content differs from its manifest sha256`);
      if (st.mode & 0o222) problem(`${f.path} is writable (${(st.mode & 0o777).toString(8)})`);
    }
    if (typeof meta.bytes === 'number' && meta.bytes !== bytes) problem(`bytes is ${meta.bytes}, the files add up to ${bytes}`);
  }
  return report;
}

/** Names left in `<store>/.staging` and `<store>/.trash` (work an interrupted writer left behind). */
export function leftovers(store: string): string[] {
  const out: string[] = [];
  for (const sub of ['.staging', '.trash']) {
    const dir = path.join(store, sub);
    if (fs.existsSync(dir)) for (const name of fs.readdirSync(dir)) out.push(`${sub}/${name}`);
  }
  return out;
}

/** Ids of the folders of `<store>/snapshots` that hold a `snapshot.json`, sorted. */
export function snapshotFolders(store: string): string[] {
  const dir = path.join(store, 'snapshots');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((id) => fs.existsSync(path.join(dir, id, 'snapshot.json')))
    .sort();
}
