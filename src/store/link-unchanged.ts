/**
 * The links of a pass, all at once: when a pass has many settled files unchanged since the previous
 * snapshot (`LINK_IN_WORKERS_FROM`), their stored files are hard-linked by `linkStoredFiles` on
 * this thread and a worker, a folder at a time, before any copy starts. Below that they are linked one by one
 * as the small and large copiers meet them (`prepareSlot`), which a worker's start would not repay.
 *
 * Contract: the same rule as `prepareSlot`'s link (a regular file, settled, `unchangedSince` its
 * previous entry, the stored file of its size and mode), the same record (`CaptureSet.linked`, the
 * previous digest), and the same proof: the consistency pass that ends the pass checks each source
 * is still that version and removes the link when it is not. Returns the slots still to capture.
 */
import path from 'node:path';
import type { CaptureSet, Slot } from './capture-set.js';
import { LINKED, linkStoredFiles } from './link-workers.js';
import { seenOfEntry } from './source-seen.js';
import { unchangedSince } from './unchanged-since.js';

/** Links in a pass from which they are made on two threads (`linkStoredFiles`). */
export const LINK_IN_WORKERS_FROM = 2000;

/** Links the pass's unchanged files on workers when there are enough of them; the slots left to capture. */
export async function linkUnchanged(set: CaptureSet, todo: Slot[]): Promise<Slot[]> {
  if (set.previous === null) return todo;
  const linkable = todo.filter((s) => s.entry.type === 'file' && s.unsettled === null && unchangedSince(s.prev, s.entry));
  if (linkable.length < LINK_IN_WORKERS_FROM) return todo;
  for (const s of linkable) set.dirs.make(path.posix.dirname(s.entry.path));
  // The scan entries are the jobs (path, size, the source's mode): no object per file.
  const results = await linkStoredFiles(
    set.previous.filesDir,
    set.dest,
    set.previous.sealedUs,
    linkable.map((s) => s.entry),
  );
  linkable.forEach((s, i) => {
    // `unchangedSince` holds only for an entry with a ctime: it is its own `Seen`.
    if (results[i] === LINKED) set.linked(s, seenOfEntry(s.entry)!, s.prev!);
  });
  set.report();
  return todo.filter((s) => s.captured === null);
}
