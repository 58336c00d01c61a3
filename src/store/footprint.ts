/**
 * What a record of a local store occupies on disk, inode by inode: the one place that knows which
 * files deleting a record frees (a snapshot's stored files and its `snapshot.json`; a save's
 * exported file, or the files of its exported folder). Hard links make a file shared.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { forEachInSlices } from './slices.js';
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

/**
 * A mapper that hands back, for a unit equal (same inode, size and links) to one it was given
 * before, that first object: snapshots share most of their inodes, so the units of several
 * snapshots held at once cost about one snapshot's.
 */
export function unitSharer(): (u: StoredUnit) => StoredUnit {
  const seen = new Map<string, StoredUnit>();
  return (u) => {
    const first = seen.get(u.key);
    if (first === undefined) seen.set(u.key, u);
    return first !== undefined && first.size === u.size && first.links === u.links ? first : u;
  };
}

/**
 * The units of `r` (files that are gone or are not regular files are left out). The lstats run
 * synchronously in slices (`slices.ts`): a promise each cost 2-3 s for a snapshot of 100,000 files.
 */
export async function storedUnits(r: RecordMeta): Promise<StoredUnit[]> {
  const single = r.kind === 'save' && (await fsp.lstat(r.path).catch(() => null))?.isFile() === true;
  const out: StoredUnit[] = [];
  const add = (file: string): void => {
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    } catch {
      return;
    }
    if (st?.isFile()) out.push({ key: `${st.dev}:${st.ino}`, size: Number(st.size), links: Number(st.nlink) });
  };
  if (single) add(r.path);
  // Each path joined when it is looked at: not 100,000 of them held at once.
  else await forEachInSlices(r.files, (f) => add(path.join(r.path, f.path)));
  if (r.kind !== 'save') add(path.join(path.dirname(r.path), 'snapshot.json'));
  return out;
}
