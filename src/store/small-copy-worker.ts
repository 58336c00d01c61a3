/**
 * A worker thread that makes small copies of a pass (`capture-small.ts`) beside the main thread: a
 * first snapshot of 100,000 small files is per-file CPU (open, fstat, read, sha256, create, write,
 * the checks after), all of it on one core before; the machines ckptd is measured on have two.
 *
 * Contract: a batch is files of ONE folder of the run, opened and checked by the caller to really
 * be the run's (`RunFolders.openFolder`) and held open by it until the batch is answered; the
 * worker opens each file by its name in that open folder (`/proc/self/fd/N/name`: threads share
 * the process's descriptors), so nothing is read through a folder swapped for a symlink, exactly as
 * on the main thread. Each file is copied by `copySmall` (the main thread's own function, same
 * checks) and closed without an fsync: the worker serves only a capture whose small copies are
 * made durable at once by a syncfs (`CaptureSet.deferSyncs`). The answer has one result per file in
 * order (the digest and the source's ctime, or why not), fewer when the worker stopped early: after
 * an error or an unreadable file (the last result; the capture fails on it), or once `stop()` was
 * called (before the next file). `copy` resolves null when the worker died before answering: the
 * files of that batch are the caller's to remove and copy again (one may be half written). Errors
 * cross as their message and code, rebuilt here.
 */
import { Worker } from 'node:worker_threads';
import { SMALL_FILE } from './capture-file.js';
import { WORKER_LIMITS } from './link-workers.js';
import { SMALL_COPY_SOURCE, type SmallCopyFailure } from './small-copy.js';
import type { ScanEntry } from './types.js';

/** What a small copy on the worker gave: the copy made (closed, not yet durable), or why not. */
export type SmallResult = { fail?: undefined; sha256: string; ctimeNs: string } | SmallCopyFailure;

/** How the worker starts (workerData), for a test to start another. */
export interface SmallWorkerData {
  runDir: string;
  dest: string;
  /** Non-zero: stop before the next file (an Int32Array on a SharedArrayBuffer). */
  stop: Int32Array;
  bufferSize: number;
}

// The paths and the two strings of each entry cross joined by NUL, the one byte no path holds.
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:fs'), import('node:crypto'), import('node:path')]).then(([{ parentPort, workerData }, fs, { hash }, path]) => {
${SMALL_COPY_SOURCE}
  const { runDir, dest, stop, bufferSize } = workerData;
  const buf = Buffer.allocUnsafe(bufferSize);
  parentPort.on('message', ({ dir, rels, sizes, inos, modes, stored, mtimes, ctimes }) => {
    const list = rels.split('\\0');
    const mt = mtimes.split('\\0');
    const ct = ctimes.split('\\0');
    const out = [];
    for (let i = 0; i < list.length && Atomics.load(stop, 0) === 0; i++) {
      const rel = list[i];
      const src = path.join(runDir, rel);
      const dst = path.join(dest, rel);
      const expect = { size: sizes[i], mtimeNs: mt[i], mode: modes[i], ino: inos[i], ctimeNs: ct[i] === '' ? undefined : ct[i] };
      let got;
      try {
        got = copySmall(fs, hash, buf, dir + '/' + path.basename(rel), src, dst, expect, stored[i]);
        if (got.fail === undefined) got = closeSmallCopy(fs, got.fd, dst) || { sha256: got.sha256, ctimeNs: got.ctimeNs };
      } catch (err) {
        got = { fail: 'error', what: 'copying', path: src, err };
      }
      if (got.fail === 'error') {
        const err = got.err || {};
        out.push({ fail: 'error', what: got.what, path: got.path, message: String(err.message), code: err.code });
        break;
      }
      out.push(got);
      if (got.fail === 'unreadable') break;
    }
    parentPort.postMessage(out);
  });
});
`;

/** Starts the worker (the default, `spawnSmallWorker`: a worker thread running `WORKER_SOURCE`, its heap capped). */
export type SpawnSmallWorker = (data: SmallWorkerData) => Worker;

export const spawnSmallWorker: SpawnSmallWorker = (workerData) => new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits: WORKER_LIMITS });

/** One worker thread copying small files of one capture into `dest` (see the file comment). */
export class SmallCopyWorker {
  /** The batches posted and not yet answered, oldest first (the worker answers in order). */
  private readonly waiting: ((reply: SmallResult[] | null) => void)[] = [];
  private dead = false;

  private constructor(
    private readonly worker: Worker,
    private readonly stopFlag: Int32Array,
  ) {
    worker.on('message', (reply: WireResult[]) => this.waiting.shift()?.(reply.map(fromWire)));
    const died = (): void => {
      this.dead = true;
      for (const answer of this.waiting.splice(0)) answer(null);
    };
    worker.once('error', died);
    worker.once('exit', died);
  }

  /** A worker for the run `runDir` and the destination `dest`; null when it cannot start. */
  static start(runDir: string, dest: string, spawn: SpawnSmallWorker = spawnSmallWorker): SmallCopyWorker | null {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    try {
      return new SmallCopyWorker(spawn({ runDir, dest, stop, bufferSize: SMALL_FILE + 1 }), stop);
    } catch {
      return null;
    }
  }

  /**
   * Copies `entries` (files of the folder open at `dir`, `/proc/self/fd/N`; `modes` the stored
   * mode of each) into `dest`: a result per file, fewer when it stopped early; null when the worker
   * died first (see the file comment).
   */
  copy(dir: string, entries: readonly ScanEntry[], modes: readonly number[]): Promise<SmallResult[] | null> {
    if (this.dead) return Promise.resolve(null);
    const sizes = new Float64Array(entries.length);
    const inos = new Float64Array(entries.length);
    const own = new Uint16Array(entries.length);
    const stored = new Uint16Array(modes);
    entries.forEach((e, i) => {
      sizes[i] = e.size;
      inos[i] = e.ino;
      own[i] = e.mode;
    });
    const answer = new Promise<SmallResult[] | null>((resolve) => this.waiting.push(resolve));
    this.worker.postMessage(
      {
        dir,
        rels: entries.map((e) => e.path).join('\0'),
        mtimes: entries.map((e) => e.mtimeNs).join('\0'),
        ctimes: entries.map((e) => e.ctimeNs ?? '').join('\0'),
        sizes,
        inos,
        modes: own,
        stored,
      },
      [sizes.buffer, inos.buffer, own.buffer, stored.buffer],
    );
    return answer;
  }

  /** The worker stops before its next file: every batch not yet done is answered at once, short. */
  stop(): void {
    Atomics.store(this.stopFlag, 0, 1);
  }

  /** Ends the worker; resolves once it has stopped (no copy of it runs after that). */
  async end(): Promise<void> {
    this.stop();
    this.worker.removeAllListeners('exit');
    // A second 'error' with no listener would be thrown at the process.
    this.worker.on('error', () => undefined);
    await this.worker.terminate();
  }
}

/** A result as it crosses from the worker: an error as its message and code. */
type WireResult = SmallResult | { fail: 'error'; what: string; path: string; message: string; code?: string };

function fromWire(r: WireResult): SmallResult {
  if (r.fail !== 'error' || !('message' in r)) return r;
  return { fail: 'error', what: r.what, path: r.path, err: Object.assign(new Error(r.message), { code: r.code }) };
}
