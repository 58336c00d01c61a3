/**
 * `Store.importSnapshot` of the local store: copies a snapshot of another store (a remote one, for
 * `ckptd pull`) into this one under the same id and labels, so it is listed, can be restored
 * offline and be the link source of the next snapshot. Every file is checked against the manifest
 * (sha256 and size; a symlink's target) before anything is visible; the snapshot is staged in
 * `.staging/` and committed by the one commit protocol, so a kill leaves nothing `sweep` keeps.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { commitStaged, fsyncDir, removeTree, syncDirs } from './durable.js';
import { isValidId } from './ids.js';
import { DIR_MODE, ensureStore, snapshotDir, snapshotFilesDir, stagingRoot } from './layout.js';
import { assertLockHeld, signalOfHeldLock } from './lock-signal.js';
import { storedMode } from './stored-mode.js';
import type { Store } from './store.js';
import type { SnapshotMeta } from './types.js';
import { utimesSeconds } from '../util/fs.js';

export interface ImportOptions {
  /** Bytes copied so far, as they are. */
  onBytes?: (n: number) => void;
  /** The store lock's signal; default: the lock this process holds on the store. */
  signal?: AbortSignal;
}

/** Copies `record` of `from` into the local store `store`; returns the imported snapshot's metadata. */
export async function importSnapshot(store: string, from: Store, record: SnapshotMeta, opts: ImportOptions = {}): Promise<SnapshotMeta> {
  if (!isValidId(record.id)) throw new Error(`invalid id ${JSON.stringify(record.id)}`);
  const signal = opts.signal ?? signalOfHeldLock(store);
  assertLockHeld(signal);
  await ensureStore(store);
  const final = snapshotDir(store, record.id);
  if (await fsp.lstat(final).then(() => true, () => false)) throw new Error(`snapshot ${record.id} is already in ${store}`);
  // A folder is made for each file's path: one that ran through a symlink of the record would be
  // made wherever the link points. No capture lists a file under a symlink (the scan follows none).
  const links = new Set(record.files.filter((f) => f.type === 'symlink').map((f) => f.path));
  for (const f of record.files) {
    for (let d = path.posix.dirname(f.path); d !== '.'; d = path.posix.dirname(d)) {
      if (links.has(d)) throw new Error(`snapshot ${record.id} in ${from.location} is damaged: ${f.path} lies under ${d}, which it lists as a symlink; nothing was imported`);
    }
  }
  const stage = path.join(stagingRoot(store), record.id);
  await fsp.mkdir(stage, { mode: DIR_MODE });
  try {
    const filesDir = path.join(stage, 'files');
    await fsp.mkdir(filesDir, { mode: DIR_MODE });
    const dirs = new Set<string>([filesDir]);
    let bytes = 0;
    for (const f of record.files) {
      const dest = path.join(filesDir, ...f.path.split('/'));
      await fsp.mkdir(path.dirname(dest), { recursive: true, mode: DIR_MODE });
      dirs.add(path.dirname(dest));
      if (f.type === 'symlink') {
        const target = await from.readLink(record, f.path);
        if (target !== f.target || createHash('sha256').update(target).digest('hex') !== f.sha256) {
          throw new Error(`snapshot ${record.id} in ${from.location} is damaged: the symlink ${f.path} does not match its manifest; nothing was imported`);
        }
        await fsp.symlink(target, dest);
        continue;
      }
      const copy = await from.copyFileOut(record, f.path, dest, { mode: storedMode(f.mode), ...(opts.onBytes ? { onBytes: opts.onBytes } : {}) });
      if (copy.sha256 !== f.sha256 || copy.size !== f.size) {
        throw new Error(`snapshot ${record.id} in ${from.location} is damaged: ${f.path} does not match its manifest (sha256 differs); nothing was imported. Run \`ckptd verify --remote ${record.id}\``);
      }
      const mtime = utimesSeconds(BigInt(f.mtime_ns) + 500n);
      await fsp.utimes(dest, mtime, mtime);
      bytes += f.size;
    }
    const { damaged: _d, incomplete: _i, ...kept } = record as SnapshotMeta & { incomplete?: boolean };
    const meta: SnapshotMeta = { ...kept, incomplete: (record.skipped ?? []).length > 0, path: snapshotFilesDir(store, record.id), copied_bytes: bytes, linked_bytes: 0 };
    const fh = await fsp.open(path.join(stage, 'snapshot.json'), 'wx', 0o444);
    try {
      await fh.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await fsyncDir(d);
    await fsyncDir(stage);
    assertLockHeld(signal);
    const renamed = new Set<string>();
    await commitStaged(stage, final, { noReplace: true, deferSync: renamed });
    await syncDirs(renamed);
    return meta;
  } catch (err) {
    await removeTree(stage).catch(() => undefined);
    throw err;
  }
}
