/**
 * Hard-linking many stored files of the previous snapshot into a new one, on worker threads. A
 * snapshot is a folder of plain files (SPEC section 3), so each unchanged file of a run costs a
 * link(2) and the lstat that checks the stored file first; for 100,000 files that is 2-3 s on one
 * thread, and the calls of two threads working in different folders do not wait for each other
 * (ext4 locks a folder, not the file system, for a new name): 1.5 s against 0.8 s for 100,000 links
 * on the 2-core VM of docs/BENCHMARKS.md. A promise per call through the thread pool is slower than
 * one thread (a round trip per call), so each worker makes its calls synchronously, for whole folders.
 *
 * Contract of `linkStoredFiles`: for each job, links `fromDir/rel` to `toDir/rel` when the stored
 * file is a regular file of the job's size and mode (what a copy of that version would be), and
 * reports it `LINKED`; `NOT_LINKABLE` when the stored file is gone, another size or mode, or cannot
 * be linked for a reason a copy gets around (EMLINK: too many links to one inode; EPERM:
 * protected_hardlinks; ENOENT: deleted meanwhile; EXDEV). Any other error is thrown (the path in its
 * message) once every worker has stopped, and the links already made are the caller's to remove
 * with the rest of its destination. The folders of `toDir` must exist. The workers end with the call.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { withPath } from './errors.js';

/** The result of a job: not linked, to be copied instead (zero: what a job no worker answered reads as). */
export const NOT_LINKABLE = 0;
/** The result of a job: linked. */
export const LINKED = 1;

/** Threads that link at once: two fill the 2-core machines ckptd is measured on; more did not help there. */
export const LINK_WORKERS = 2;

/** One stored file to link: its path relative to both folders, and the size and mode it must have. */
export interface LinkJob {
  rel: string;
  size: number;
  mode: number;
}

// The paths cross as one string joined by NUL (a single copy, not one clone per string); NUL is
// the one byte no path holds.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const SOFT = new Set(['EMLINK', 'EPERM', 'ENOENT', 'EXDEV']);
const { fromDir, toDir, rels, sizes, modes } = workerData;
const list = rels.split('\\0');
const out = new Uint8Array(list.length);
let error = null;
for (let i = 0; i < list.length; i++) {
  const stored = fromDir + '/' + list[i];
  let st;
  try {
    st = fs.lstatSync(stored, { throwIfNoEntry: false });
  } catch {
    out[i] = ${NOT_LINKABLE};
    continue;
  }
  if (st === undefined || !st.isFile() || st.size !== sizes[i] || (st.mode & 0o7777) !== modes[i]) {
    out[i] = ${NOT_LINKABLE};
    continue;
  }
  try {
    fs.linkSync(stored, toDir + '/' + list[i]);
    out[i] = ${LINKED};
  } catch (err) {
    if (SOFT.has(err.code)) {
      out[i] = ${NOT_LINKABLE};
      continue;
    }
    error = { at: list[i], message: err.message, code: err.code };
    break;
  }
}
parentPort.postMessage({ out, error });
`;

/** Links each job's stored file into `toDir` (see the file comment); one result per job, in order. */
export async function linkStoredFiles(fromDir: string, toDir: string, jobs: readonly LinkJob[]): Promise<Uint8Array> {
  const results = new Uint8Array(jobs.length);
  const parts = byFolder(jobs, LINK_WORKERS).filter((p) => p.length > 0);
  const settled = await Promise.allSettled(parts.map((part) => linkOnWorker(fromDir, toDir, jobs, part, results)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results;
}

/**
 * The jobs' indexes in `n` parts of about equal length, each folder's jobs in one part (two threads
 * adding names to one folder would wait for each other's lock).
 */
function byFolder(jobs: readonly LinkJob[], n: number): number[][] {
  const folders = new Map<string, number[]>();
  jobs.forEach((job, i) => {
    const cut = job.rel.lastIndexOf('/');
    const dir = cut < 0 ? '' : job.rel.slice(0, cut);
    let list = folders.get(dir);
    if (list === undefined) folders.set(dir, (list = []));
    list.push(i);
  });
  const parts: number[][] = Array.from({ length: n }, () => []);
  for (const list of [...folders.values()].sort((a, b) => b.length - a.length)) {
    const lightest = parts.reduce((min, p) => (p.length < min.length ? p : min));
    for (const i of list) lightest.push(i);
  }
  return parts;
}

/** Runs one part on a worker of its own and writes its results into `results`. */
function linkOnWorker(fromDir: string, toDir: string, jobs: readonly LinkJob[], part: number[], results: Uint8Array): Promise<void> {
  const sizes = new Float64Array(part.length);
  const modes = new Uint16Array(part.length);
  part.forEach((i, k) => {
    sizes[k] = jobs[i]!.size;
    modes[k] = jobs[i]!.mode;
  });
  const rels = part.map((i) => jobs[i]!.rel).join('\0');
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fromDir, toDir, rels, sizes, modes }, transferList: [sizes.buffer, modes.buffer] });
    let answered = false;
    worker.once('message', (reply: { out: Uint8Array; error: { at: string; message: string; code?: string } | null }) => {
      answered = true;
      reply.out.forEach((r, k) => (results[part[k]!] = r));
      void worker.terminate();
      if (reply.error === null) return resolve();
      const err = Object.assign(new Error(reply.error.message), { code: reply.error.code });
      reject(withPath(err, 'linking', path.join(toDir, reply.error.at)));
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    // A worker that ends without an answer (terminated from outside) made links no one knows of:
    // an error, so the caller removes the whole destination.
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`link worker exited with code ${code} before answering`));
    });
  });
}
