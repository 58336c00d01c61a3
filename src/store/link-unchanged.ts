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
import { LINKED, linkStoredFiles, type LinkJob } from './link-workers.js';
import { storedMode } from './prepare-slot.js';
import { seenOfEntry } from './source-seen.js';
import { unchangedSince } from './unchanged-since.js';

/** Links in a pass from which they are made on two threads (`linkStoredFiles`). */
export const LINK_IN_WORKERS_FROM = 2000;

/** Links the pass's unchanged files on workers when there are enough of them; the slots left to capture. */
export async function linkUnchanged(set: CaptureSet, todo: Slot[]): Promise<Slot[]> {
  if (set.previous === null) return todo;
  const linkable = todo.filter((s) => s.entry.type === 'file' && s.unsettled === null && unchangedSince(set.prev.get(s.entry.path), s.entry));
  if (linkable.length < LINK_IN_WORKERS_FROM) return todo;
  const jobs: LinkJob[] = linkable.map((s) => {
    set.dirs.make(path.posix.dirname(s.entry.path));
    return { rel: s.entry.path, size: s.entry.size, mode: storedMode(s.entry.mode) };
  });
  const results = await linkStoredFiles(set.previous.filesDir, set.dest, jobs);
  const linked = new Set<Slot>();
  linkable.forEach((s, i) => {
    if (results[i] !== LINKED) return;
    // `unchangedSince` holds only for an entry with a ctime: it is its own `Seen`.
    set.linked(s, seenOfEntry(s.entry)!, set.prev.get(s.entry.path)!);
    linked.add(s);
  });
  set.report();
  return linked.size === todo.length ? [] : todo.filter((s) => !linked.has(s));
}
