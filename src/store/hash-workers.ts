/**
 * sha256 of large open files on worker threads. `hash.update` runs on the thread that calls it, so
 * two large copies hashed on the main thread take turns on one core while the other idles; on a
 * worker each hash has a core of its own, and the main thread stays free for the daemon's events.
 *
 * A worker reads the file through the same descriptor the caller opened and checked (threads share
 * the process's descriptors), so the bytes hashed are those of exactly that inode. Workers start on
 * first use, hold the process open only while they have work, and end after a while without any.
 */
import { Worker } from 'node:worker_threads';

/**
 * What a worker runs: reads `size` bytes of `fd` from offset 0 and hashes them. Evaluated code is
 * CommonJS or an ES module depending on the process's flags (`--input-type`), so it uses only
 * dynamic `import()`, which works in both; messages wait in the port until the listener is added.
 */
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:fs'), import('node:crypto')]).then(([{ parentPort }, fs, { createHash }]) => {
  const CHUNK = 8 << 20;
  let buf = null;
  parentPort.on('message', ({ fd, size }) => {
    try {
      buf = buf || Buffer.allocUnsafe(CHUNK);
      const hash = createHash('sha256');
      let pos = 0;
      while (pos < size) {
        const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
        if (n === 0) return parentPort.postMessage({ short: pos });
        hash.update(buf.subarray(0, n));
        pos += n;
        parentPort.postMessage({ progress: n });
      }
      parentPort.postMessage({ sha256: hash.digest('hex') });
    } catch (err) {
      parentPort.postMessage({ error: { message: err.message, code: err.code } });
    }
  });
});
`;

/**
 * How many files are hashed at once, and so how many large files capture, restore and verify work
 * on at a time: each keeps a core busy hashing while the kernel copies, so two fill a 2-core machine
 * without thrashing the disk.
 */
export const HASH_WORKERS = 2;
/** A worker with no work for this long ends (an idle daemon keeps no threads). */
const IDLE_MS = 30_000;

/** How a hash ended short of `size`: the file ended at `at` bytes. */
export class ShortReadError extends Error {
  constructor(readonly at: number) {
    super(`file ended at ${at} bytes`);
  }
}

type Reply = { progress: number } | { sha256: string } | { short: number } | { error: { message: string; code?: string } };

interface Job {
  fd: number;
  size: number;
  onBytes: ((n: number) => void) | undefined;
  resolve: (sha256: string) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  idle: NodeJS.Timeout | null;
}

const slots: Slot[] = [];
const queue: Job[] = [];

/**
 * sha256 (hex) of the first `size` bytes of the open file `fd`, computed on a worker thread;
 * `onBytes` hears each chunk hashed. Rejects with `ShortReadError` when the file holds fewer bytes,
 * with the read error (its `code` kept) when a read fails. `fd` must stay open until this settles.
 */
export function hashOpenFileOnWorker(fd: number, size: number, onBytes?: (n: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    queue.push({ fd, size, onBytes, resolve, reject });
    dispatch();
  });
}

function dispatch(): void {
  while (queue.length > 0) {
    let slot = slots.find((s) => s.job === null);
    if (!slot) {
      if (slots.length >= HASH_WORKERS) return;
      slot = spawn();
    }
    const job = queue.shift()!;
    if (slot.idle) clearTimeout(slot.idle);
    slot.idle = null;
    slot.job = job;
    // Held open only while it works: a finished command must not wait for an idle worker.
    slot.worker.ref();
    slot.worker.postMessage({ fd: job.fd, size: job.size });
  }
}

function spawn(): Slot {
  const slot: Slot = { worker: new Worker(WORKER_SOURCE, { eval: true }), job: null, idle: null };
  slot.worker.on('message', (reply: Reply) => {
    const job = slot.job;
    if (job === null) return;
    if ('progress' in reply) {
      job.onBytes?.(reply.progress);
      return;
    }
    slot.job = null;
    slot.worker.unref();
    slot.idle = setTimeout(() => retire(slot), IDLE_MS);
    slot.idle.unref();
    if ('sha256' in reply) job.resolve(reply.sha256);
    else if ('short' in reply) job.reject(new ShortReadError(reply.short));
    else job.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    dispatch();
  });
  // A worker that dies (out of memory, killed) fails its job; the next job gets a new worker.
  const died = (err: Error): void => {
    retire(slot);
    slot.job?.reject(err);
    slot.job = null;
    dispatch();
  };
  slot.worker.on('error', died);
  slot.worker.on('exit', (code) => {
    if (slots.includes(slot)) died(new Error(`hash worker exited with code ${code}`));
  });
  slots.push(slot);
  return slot;
}

function retire(slot: Slot): void {
  const i = slots.indexOf(slot);
  if (i >= 0) slots.splice(i, 1);
  if (slot.idle) clearTimeout(slot.idle);
  void slot.worker.terminate();
}
