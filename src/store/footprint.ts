/**
 * What a record of a local store occupies on disk, inode by inode: the one place that knows which
 * files deleting a record frees (a snapshot's stored files and its `snapshot.json`; a save's
 * exported file, or the files of its exported folder). Hard links make a file shared.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RecordMeta } from './types.js';

/**
 * One unit of storage a record holds: `key` names it across records (here `dev:ino`), `links` is
 * how many references to it exist in the whole store (here the link count). Deleting a set of
 * records frees a unit when every one of its `links` lies in the set.
 */
export interface StoredUnit {
  key: string;
  size: number;
  links: number;
}

/** The units of `r` (files that are gone or are not regular files are left out). */
export async function storedUnits(r: RecordMeta): Promise<StoredUnit[]> {
  const single = r.kind === 'save' && (await fsp.lstat(r.path).catch(() => null))?.isFile() === true;
  const files = single ? [r.path] : r.files.map((f) => path.join(r.path, f.path));
  if (r.kind !== 'save') files.push(path.join(path.dirname(r.path), 'snapshot.json'));
  const out: StoredUnit[] = [];
  for (const file of files) {
    const st = await fsp.lstat(file, { bigint: true }).catch(() => null);
    if (st?.isFile()) out.push({ key: `${st.dev}:${st.ino}`, size: Number(st.size), links: Number(st.nlink) });
  }
  return out;
}
