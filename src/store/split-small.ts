/**
 * The small copies of a pass shared between this thread and one worker thread
 * (`small-copy-worker.ts`), as the links of unchanged files are (`link-workers.ts`): a first
 * snapshot of many small files is per-file CPU, and the machines ckptd is measured on have two
 * cores. Only for a pass of at least `SPLIT_FROM` small files of a capture whose small copies are
 * made durable at once by a syncfs (`CaptureSet.deferSyncs`): the worker closes each copy without
 * an fsync; with a fsync per copy, every copy stays on this thread (`capture-small.ts`).
 *
 * How: the items are cut into chunks of at most `CHUNK`, each of one folder, in path order; this
 * thread takes chunks from the front and captures them as before (in slices), the worker's chunks
 * are taken from the back (the two threads meet in the middle and seldom add names to one folder
 * at once, which would make each wait for the other's lock). Every slot is prepared on this thread
 * (`prepareSlot`: symlinks, unsettled versions, links from the previous snapshot, the folder made);
 * the copies of a chunk go to the worker with the chunk's folder opened and checked to be the run's
 * (`RunFolders.openFolder`), held open until the worker answered (or ended: an fd closed earlier
 * could be reused for another folder under the worker's feet).
 *
 * Contract: the same outcome for every slot as `captureSmall` on one thread, from the same
 * `copySmall`: a copy made is recorded as this thread's (`CaptureSet.copied`, `unsyncedCopy`,
 * `progressed`); a file the worker found gone is copied again here (in a fresh open of its folder
 * if need be, as `copyInRun` does), a changed one judged by `copyFailed`, an unreadable one or any
 * error thrown. A folder that cannot be opened as the run's (gone, swapped for a symlink) has its
 * chunk copied here, where the same checks judge each file. Once the capture has an error, neither
 * thread starts another file (the worker stops before its next one) and the error is thrown once
 * the worker has ended. A worker that cannot start or dies costs speed, not the capture: the files
 * of the batches it did not answer are removed (one may be half written) and copied here.
 */
import fs from 'node:fs';
import type { CaptureSet, Outcome, Slot } from './capture-set.js';
import { smallCopyError } from './capture-file.js';
import { DONE } from './capture-set.js';
import { withPath } from './errors.js';
import { copyFailed, prepareSlot } from './prepare-slot.js';
import { forEachInSlices, nextTurn } from './slices.js';
import { SmallCopyWorker, type SmallResult, type SpawnSmallWorker } from './small-copy-worker.js';
import { storedMode } from './stored-mode.js';
import { indexesByFolder } from '../util/paths.js';

/** Small files in a pass from which their copies are shared with a worker (its start costs ~30 ms). */
export const SPLIT_FROM = 2000;

/**
 * Files of one folder in a message to the worker: small enough that this thread prepares them
 * between two slices, large enough that a message's cost (an open and check of the folder, the
 * round trip) is a few percent of the copies.
 */
const CHUNK = 128;

/** Batches posted to the worker at once: the next waits in its port while this thread takes the answer. */
const IN_FLIGHT = 2;

/** How this thread captures a slot (`capture-small.ts`). */
export interface CopyHere {
  /** Prepares the slot and copies it when it needs a copy. */
  one(slot: Slot): Outcome;
  /** Copies a slot already prepared. */
  copy(slot: Slot): Outcome;
}

/** For tests: the count from which copies are split, and how the worker starts. */
let forTests: { from?: number; spawn?: SpawnSmallWorker } = {};

/** Test-only: split from `from` small files, start the worker with `spawn`; `{}` restores the defaults. */
export function splitSmallForTests(opts: { from?: number; spawn?: SpawnSmallWorker }): void {
  forTests = opts;
}

/** Whether a pass's small items are shared with a worker (see the file comment). */
export function splitsSmallCopies(set: CaptureSet, items: readonly Slot[]): boolean {
  return set.syncsDeferred && items.length >= (forTests.from ?? SPLIT_FROM);
}

/** A batch posted to the worker: the items copied there, and the folder held open for it. */
interface Batch {
  copies: number[];
  fd: number;
  reply: Promise<SmallResult[] | null>;
}

/** `captureSmall` on this thread and the worker (see the file comment); the outcomes in item order. */
export async function captureSplit(set: CaptureSet, items: Slot[], last: boolean, here: CopyHere): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array<Outcome>(items.length);
  const chunks: number[][] = [];
  for (const list of indexesByFolder(items.map((s) => s.entry)).values()) for (let k = 0; k < list.length; k += CHUNK) chunks.push(list.slice(k, k + CHUNK));
  let front = 0;
  let back = chunks.length;

  const drainHere = async (): Promise<void> => {
    for (let chunk = front < back ? chunks[front++] : undefined; chunk !== undefined; chunk = front < back ? chunks[front++] : undefined) {
      await forEachInSlices(chunk, (i) => {
        set.throwIfFailed();
        outcomes[i] = here.one(items[i]!);
        set.report();
      });
      // The worker's answers have their turn between chunks too.
      await nextTurn();
    }
  };

  /** Prepares a chunk here and posts its copies to the worker; null when there is nothing to post. */
  const post = (worker: SmallCopyWorker, chunk: number[]): Batch | null => {
    const copies: number[] = [];
    for (const i of chunk) {
      const prepared = prepareSlot(set, items[i]!, last);
      if (prepared.kind === 'copy') copies.push(i);
      else outcomes[i] = prepared;
    }
    if (copies.length === 0) return null;
    let fd: number | null;
    try {
      fd = set.folders.openFolder(items[copies[0]!]!.entry.path);
    } catch {
      // Swapped for a symlink, or an error: the copies here meet it again, file by file, and judge it.
      fd = null;
    }
    if (fd === null) {
      for (const i of copies) outcomes[i] = here.copy(items[i]!);
      return null;
    }
    const entries = copies.map((i) => items[i]!.entry);
    try {
      return { copies, fd, reply: worker.copy(`/proc/self/fd/${fd}`, entries, entries.map((e) => storedMode(e.mode))) };
    } catch (err) {
      // Not posted: the worker never sees this folder.
      closeFolder(fd);
      throw err;
    }
  };

  /** One answer of the worker recorded, as `copyPrepared` records a copy made here. */
  const record = (slot: Slot, r: SmallResult): Outcome => {
    if (r.fail === undefined) {
      set.unsyncedCopy(slot.entry.path);
      set.copied(slot, { sha256: r.sha256, size: slot.entry.size, ctimeNs: r.ctimeNs });
      set.progressed(slot.entry.size);
      return DONE;
    }
    // Looked for again here, in a fresh open of its folder if need be (`copyInRun`).
    if (r.fail === 'vanished') return here.copy(slot);
    return copyFailed(set, slot, last, smallCopyError(r, set.srcOf(slot.entry.path)));
  };

  /** Copies again here the slots of batches the worker did not answer (after it ended), each copy it may have begun removed. */
  const redoHere = async (slots: number[]): Promise<void> => {
    await forEachInSlices(slots, (i) => {
      set.throwIfFailed();
      removeCopy(set, items[i]!);
      outcomes[i] = here.copy(items[i]!);
      set.report();
    });
  };

  const drainOnWorker = async (worker: SmallCopyWorker): Promise<void> => {
    const inFlight: Batch[] = [];
    let ended = false;
    try {
      for (;;) {
        while (inFlight.length < IN_FLIGHT && !set.failed && front < back) {
          const batch = post(worker, chunks[--back]!);
          if (batch !== null) inFlight.push(batch);
        }
        const batch = inFlight.shift();
        if (batch === undefined) break;
        const reply = await batch.reply;
        if (reply === null) {
          // Died: ended first (nothing of it runs after that), then its folders closed and its
          // unanswered copies made here.
          await worker.end();
          ended = true;
          const lost = [batch, ...inFlight.splice(0)];
          for (const b of lost) closeFolder(b.fd);
          await redoHere(lost.flatMap((b) => b.copies));
          await drainHere();
          return;
        }
        closeFolder(batch.fd);
        // After an error anywhere, nothing more is recorded: the capture throws.
        if (set.failed) break;
        reply.forEach((r, k) => (outcomes[batch.copies[k]!] = record(items[batch.copies[k]!]!, r)));
        // Answered short without an error (never expected): those copies are made here.
        if (reply.length < batch.copies.length) await redoHere(batch.copies.slice(reply.length));
        set.report();
      }
    } finally {
      if (!ended) {
        worker.stop();
        // Each folder stays open until the worker is done with its batch.
        for (const b of inFlight) {
          await b.reply;
          closeFolder(b.fd);
        }
        await worker.end();
      }
    }
  };

  const worker = SmallCopyWorker.start(set.runDir, set.dest, forTests.spawn);
  const failed = (err: unknown): never => {
    set.fail(err);
    // The worker stops before its next file.
    worker?.stop();
    throw err;
  };
  // The worker's first batches go first: it idles until then.
  const settled = await Promise.allSettled([worker === null ? Promise.resolve() : drainOnWorker(worker).catch(failed), drainHere().catch(failed)]);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
  return outcomes;
}

/** Closes a folder held open for the worker. */
function closeFolder(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}

/** Removes whatever is at a slot's destination (a copy a dead worker may have begun). */
function removeCopy(set: CaptureSet, slot: Slot): void {
  const dst = set.dstOf(slot.entry.path);
  try {
    fs.rmSync(dst, { force: true });
  } catch (err) {
    throw withPath(err, 'removing', dst);
  }
}
