/**
 * Hard-linking many stored files of the previous snapshot into a new one, on two threads: this one
 * (in slices, so the event loop keeps its turns) and a worker. A snapshot is a folder of plain
 * files (SPEC section 3), so each unchanged file of a run costs a link(2) and the lstat that checks
 * the stored file first; for 100,000 files that is 2-3 s on one thread, and the calls of two
 * threads working in different folders do not wait for each other (ext4 locks a folder, not the
 * file system, for a new name): 1.5 s against 0.8 s for 100,000 links on the 2-core VM of
 * docs/BENCHMARKS.md. A promise per call through the thread pool is slower than one thread (a round
 * trip per call), so each thread makes its calls synchronously, for whole folders.
 *
 * Contract of `linkStoredFiles`: for each job, links `fromDir/path` to `toDir/path` when the stored
 * file is a regular file of the job's size and of the mode a copy of a source with the job's mode
 * gets (`storedMode`), modified no later than the microsecond the snapshot was sealed in
 * (`sealedUs`), and reports it `LINKED`; `NOT_LINKABLE` when the stored file is gone, another size or mode, written
 * since (its bytes may no longer be the ones its manifest names), or cannot
 * be linked for a reason a copy gets around (EMLINK: too many links to one inode; EPERM:
 * protected_hardlinks; ENOENT: deleted meanwhile; EXDEV). Any other error is thrown (the path in its
 * message) once both threads have stopped, and the links already made are the caller's to remove
 * with the rest of its destination. The folders of `toDir` must exist. The worker ends with the call;
 * a worker that cannot start or dies leaves its jobs to this thread (slower, never a failed capture).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { withPath } from './errors.js';
import { forEachInSlices } from './slices.js';
import { storedMode } from './stored-mode.js';
import { indexesByFolder, joinerUnder } from '../util/paths.js';

/** The result of a job: not linked, to be copied instead (zero: what a job no worker answered reads as). */
export const NOT_LINKABLE = 0;
/** The result of a job: linked. */
export const LINKED = 1;

/**
 * Threads that link at once, this one included (each worker thread costs ~12 MB of memory): two
 * fill the 2-core machines ckptd is measured on; more did not help there.
 */
export const LINK_THREADS = 2;

/**
 * One stored file to link: its path relative to both folders, its size, and the permission bits of
 * its source (the stored file has `storedMode` of them). A scan entry is one: a capture passes its
 * entries as they are, no object made per file.
 */
export interface LinkJob {
  path: string;
  size: number;
  mode: number;
}

/**
 * Jobs a worker gets in one message. With its heap capped (`WORKER_LIMITS`), a worker's memory is
 * bounded whatever the number of files: a batch of 10,000 paths is about 1 MB.
 */
const BATCH = 10_000;

/**
 * A worker's heap (also the small-copy worker's, `small-copy-worker.ts`, whose one buffer is off
 * the heap): it holds one batch of paths and the lstat results it drops at once. V8's
 * defaults would let each worker's young generation grow to 48 MB, as much again as the capture of
 * 100,000 files holds on the main thread.
 */
export const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

/**
 * Links `stored` to `dst` when it is a regular file of `size` bytes and permission bits `mode`,
 * modified in or before the microsecond `sealedUs` (whole microseconds since the epoch, as a label
 * change keeps a seal: `utimesSeconds`): 1 (`LINKED`), or 0 (`NOT_LINKABLE`) when
 * not or for a reason a copy gets around; throws any other error. Self-contained (its source also
 * runs in the workers): it uses nothing but its arguments. Also the one-by-one link of a capture
 * with few unchanged files (`prepare-slot.ts`).
 */
export function linkOne(fs: typeof import('node:fs'), stored: string, dst: string, size: number, mode: number, sealedUs: number): number {
  let st;
  try {
    // In nanoseconds: mtimeMs, a double, is a fraction of a microsecond off either way.
    st = fs.lstatSync(stored, { throwIfNoEntry: false, bigint: true });
  } catch {
    return 0;
  }
  if (st === undefined || !st.isFile() || st.size !== BigInt(size) || Number(st.mode & 0o7777n) !== mode) return 0;
  // Written since its snapshot was sealed (links and unlinks move only the ctime): not the bytes its digest names.
  if (st.mtimeNs / 1000n > BigInt(sealedUs)) return 0;
  try {
    fs.linkSync(stored, dst);
    return 1;
  } catch (err) {
    // EMLINK: too many links to one inode; EPERM: protected_hardlinks; ENOENT: deleted meanwhile.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EMLINK' || code === 'EPERM' || code === 'ENOENT' || code === 'EXDEV') return 0;
    throw err;
  }
}

// The paths cross as one string joined by NUL (a single copy, not one clone per string); NUL is
// the one byte no path holds.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const linkOne = ${linkOne.toString()};
const { fromDir, toDir, sealedUs } = workerData;
parentPort.on('message', ({ rels, sizes, modes }) => {
  const list = rels.split('\\0');
  const out = new Uint8Array(list.length);
  let error = null;
  for (let i = 0; i < list.length; i++) {
    try {
      out[i] = linkOne(fs, fromDir + '/' + list[i], toDir + '/' + list[i], sizes[i], modes[i], sealedUs);
    } catch (err) {
      error = { at: list[i], message: err.message, code: err.code };
      break;
    }
  }
  parentPort.postMessage({ out, error }, [out.buffer]);
});
`;

/** How `linkStoredFiles` runs; both for tests. */
export interface LinkOptions {
  /** Jobs per message to the worker. */
  batch?: number;
  /** Starts the worker (default: a worker thread running `WORKER_SOURCE`). */
  spawn?: (workerData: { fromDir: string; toDir: string; sealedUs: number }) => Worker;
}

/**
 * Links each job's stored file into `toDir` (see the file comment); one result per job, in order.
 * `sealedUs`: when the snapshot of `fromDir` was sealed (its `snapshot.json`'s mtime, in whole microseconds).
 * A worker that cannot start or dies (a thread or memory limit) costs speed, not the capture: the
 * jobs it did not answer are linked on this thread, a link it made before dying taken as made.
 */
export async function linkStoredFiles(fromDir: string, toDir: string, sealedUs: number, jobs: readonly LinkJob[], opts: LinkOptions = {}): Promise<Uint8Array> {
  const results = new Uint8Array(jobs.length);
  const [own, ...others] = byFolder(jobs, LINK_THREADS);
  const spawn = opts.spawn ?? ((workerData) => new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits: WORKER_LIMITS }));
  const settled = await Promise.allSettled([
    linkHere(fromDir, toDir, sealedUs, jobs, own!, results, false),
    ...others
      .filter((p) => p.length > 0)
      .map(async (part) => {
        const left = await linkOnWorker(fromDir, toDir, sealedUs, jobs, part, results, opts.batch ?? BATCH, spawn);
        if (left.length > 0) await linkHere(fromDir, toDir, sealedUs, jobs, left, results, true);
      }),
  ]);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results;
}

/**
 * The jobs' indexes in `n` parts of about equal length, each folder's jobs in one part (two threads
 * adding names to one folder would wait for each other's lock).
 */
function byFolder(jobs: readonly LinkJob[], n: number): number[][] {
  const folders = indexesByFolder(jobs);
  const parts: number[][] = Array.from({ length: n }, () => []);
  for (const list of [...folders.values()].sort((a, b) => b.length - a.length)) {
    const lightest = parts.reduce((min, p) => (p.length < min.length ? p : min));
    for (const i of list) lightest.push(i);
  }
  return parts;
}

/**
 * Links one part on this thread, in slices of a few milliseconds (`slices.ts`): the event loop
 * keeps its turns. With `adopt` (jobs a dead worker may have done), a name that exists already as a
 * link of the very stored file counts as linked.
 */
async function linkHere(fromDir: string, toDir: string, sealedUs: number, jobs: readonly LinkJob[], part: number[], results: Uint8Array, adopt: boolean): Promise<void> {
  const storedOf = joinerUnder(fromDir);
  const dstOf = joinerUnder(toDir);
  await forEachInSlices(part, (i) => {
    const job = jobs[i]!;
    const stored = storedOf(job.path);
    const dst = dstOf(job.path);
    try {
      results[i] = linkOne(fs, stored, dst, job.size, storedMode(job.mode), sealedUs);
    } catch (err) {
      if (adopt && (err as NodeJS.ErrnoException).code === 'EEXIST' && sameFile(stored, dst)) results[i] = LINKED;
      else throw withPath(err, 'linking', dst);
    }
  });
}

/** Whether two paths name the same inode (neither followed if a symlink). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.lstatSync(a);
    const y = fs.lstatSync(b);
    return x.isFile() && x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

type Reply = { out: Uint8Array; error: { at: string; message: string; code?: string } | null };

/**
 * Runs one part on a worker of its own, `size` jobs a message, and writes its results into
 * `results`; the worker ends with the part. Throws a link error the worker met; returns the jobs it
 * left unanswered (all of them when it could not start, the rest from its batch in flight when it
 * died), for this thread to do.
 */
async function linkOnWorker(
  fromDir: string,
  toDir: string,
  sealedUs: number,
  jobs: readonly LinkJob[],
  part: number[],
  results: Uint8Array,
  size: number,
  spawn: NonNullable<LinkOptions['spawn']>,
): Promise<number[]> {
  let worker: Worker;
  try {
    worker = spawn({ fromDir, toDir, sealedUs });
  } catch {
    return part;
  }
  const DIED = Symbol('died');
  let died: () => void = () => undefined;
  const death = new Promise<typeof DIED>((resolve) => (died = () => resolve(DIED)));
  worker.once('error', () => died());
  worker.once('exit', () => died());
  try {
    for (let from = 0; from < part.length; from += size) {
      const batch = part.slice(from, from + size);
      const sizes = new Float64Array(batch.length);
      const modes = new Uint16Array(batch.length);
      batch.forEach((i, k) => {
        sizes[k] = jobs[i]!.size;
        modes[k] = storedMode(jobs[i]!.mode);
      });
      const answer = new Promise<Reply>((resolve) => worker.once('message', resolve));
      worker.postMessage({ rels: batch.map((i) => jobs[i]!.path).join('\0'), sizes, modes }, [sizes.buffer, modes.buffer]);
      const reply = await Promise.race([answer, death]);
      if (reply === DIED) return part.slice(from);
      reply.out.forEach((r, k) => (results[batch[k]!] = r));
      if (reply.error !== null) {
        const err = Object.assign(new Error(reply.error.message), { code: reply.error.code });
        throw withPath(err, 'linking', path.join(toDir, reply.error.at));
      }
    }
    return [];
  } finally {
    worker.removeAllListeners('exit');
    // A second 'error' with no listener would be thrown at the process.
    worker.on('error', () => undefined);
    // Ended before anything else happens: a worker still running could make a link after this returns.
    await worker.terminate();
  }
}
