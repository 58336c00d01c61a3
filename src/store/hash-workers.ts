/**
 * sha256 of large open files on worker threads, and the copy of a large file that hashes the very
 * bytes it writes. `hash.update` runs on the thread that calls it, so two large copies hashed on the
 * main thread take turns on one core while the other idles; on a worker each has a core of its own,
 * and the main thread stays free for the daemon's events.
 *
 * A worker reads the file through the same descriptor the caller opened and checked (threads share
 * the process's descriptors), so the bytes hashed are those of exactly that inode. It reads with
 * pread at explicit offsets, never more than the size asked for, so a job always ends: at that
 * size, or at the first read of 0 bytes (the file shrank). Two fixed buffers of `CHUNK` (1 MiB)
 * per worker: no file is ever read whole. Workers start on first use, hold the process open only while they
 * have work, and end after a while without any.
 */
import { Worker } from 'node:worker_threads';

/**
 * What a worker runs: reads `size` bytes of `fd` from offset 0 and hashes them; with `to`, also
 * writes each chunk read to the same offset of `to` (the stored bytes are the hashed bytes). The
 * write of one chunk runs in the thread pool while the worker reads and hashes the next (two
 * buffers of `CHUNK`), and every write is over before the job replies, so no write can land after
 * the caller closed `to`. When the source is sparse (allocated blocks short of its size), all-zero
 * 4 KiB blocks are not written and `to` is extended to `size` at the end, so its holes stay holes
 * (as `cp --sparse=auto`). Evaluated code is CommonJS or an ES module depending on the process's
 * flags (`--input-type`), so it uses only dynamic `import()`, which works in both; messages wait in
 * the port until the listener is added.
 */
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:fs'), import('node:crypto')]).then(([{ parentPort }, fs, { createHash }]) => {
  // 1 MiB: copying in 4 MiB reads and writes measured 5x the system time of 1 MiB ones (0.9 s vs
  // 0.15 s per 400 MB on the bench VM); 1 MiB copies as fast as the kernel's own copy did.
  const CHUNK = 1 << 20;
  // Copied bytes between two fdatasyncs started during a copy.
  const FLUSH = 64 << 20;
  const BLOCK = 4096;
  const ZERO = Buffer.alloc(BLOCK);
  let bufs = null;
  const write = (to, buf, off, len, at) => new Promise((resolve, reject) => fs.write(to, buf, off, len, at, (err, n) => (err ? reject(err) : resolve(n))));
  const fdatasync = (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  const writeAll = async (to, buf, off, len, at) => {
    while (len > 0) {
      const n = await write(to, buf, off, len, at);
      off += n;
      at += n;
      len -= n;
    }
  };
  // Writes buf[0, n) at \`pos\`, or with \`sparse\` only its runs of blocks that are not all zero.
  const writeChunk = async (to, buf, pos, n, sparse) => {
    if (!sparse) return writeAll(to, buf, 0, n, pos);
    let run = -1;
    for (let off = 0; off < n; off += BLOCK) {
      const end = Math.min(off + BLOCK, n);
      const zero = buf.compare(ZERO, 0, end - off, off, end) === 0;
      if (!zero && run < 0) run = off;
      if (zero && run >= 0) {
        await writeAll(to, buf, run, off - run, pos + run);
        run = -1;
      }
    }
    if (run >= 0) await writeAll(to, buf, run, n - run, pos + run);
  };
  const job = async ({ fd, size, to }) => {
    bufs = bufs || [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    const hash = createHash('sha256');
    const copy = to !== undefined;
    const sparse = copy && (() => {
      const st = fs.fstatSync(fd);
      return st.blocks * 512 < st.size;
    })();
    // The write under way (of the other buffer): awaited before that buffer is read into again.
    let writing = Promise.resolve();
    // The fdatasync under way (at most one), and where the last one started.
    let flushing = null;
    let flushed = 0;
    try {
      let pos = 0;
      for (let i = 0; pos < size; i++) {
        const buf = bufs[i % 2];
        let n;
        try {
          n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
        } catch (err) {
          return { error: { message: err.message, code: err.code, op: 'read' } };
        }
        if (n === 0) return { short: pos };
        hash.update(buf.subarray(0, n));
        if (copy) {
          await writing;
          if (flushing === null && pos - flushed >= FLUSH) {
            // Starts writing back what is copied so far while the copy goes on, as the kernel's
            // own copy did: the caller's fsync at the end then waits for the tail only.
            flushed = pos;
            flushing = fdatasync(to).finally(() => (flushing = null));
            flushing.catch(() => undefined);
          }
          writing = writeChunk(to, buf, pos, n, sparse).then(() => parentPort.postMessage({ progress: n }));
          // A failed write is thrown by the next \`await writing\`; meanwhile the next chunk is read and hashed.
          writing.catch(() => undefined);
        } else parentPort.postMessage({ progress: n });
        pos += n;
      }
      await writing;
      if (flushing !== null) await flushing;
      // Holes at the end were never written: the size comes from here.
      if (sparse) fs.ftruncateSync(to, size);
      return { sha256: hash.digest('hex') };
    } catch (err) {
      return { error: { message: err.message, code: err.code, op: 'write' } };
    } finally {
      // Every reply waits for the write under way: the caller closes \`to\` once it has the reply.
      await writing.catch(() => undefined);
      if (flushing !== null) await flushing.catch(() => undefined);
    }
  };
  parentPort.on('message', (msg) => {
    job(msg).then(
      (reply) => parentPort.postMessage(reply),
      (err) => parentPort.postMessage({ error: { message: String(err && err.message), code: err && err.code, op: 'read' } }),
    );
  });
});
`;

/**
 * How many files are hashed at once, and so how many large files capture, restore and verify work
 * on at a time: each keeps a core busy reading, hashing and writing, so two fill a 2-core machine
 * without thrashing the disk.
 */
export const HASH_WORKERS = 2;
/** A worker with no work for this long ends (an idle daemon keeps no threads). */
const IDLE_MS = 30_000;

/** How a hash or copy ended short of `size`: the file ended at `at` bytes. */
export class ShortReadError extends Error {
  constructor(readonly at: number) {
    super(`file ended at ${at} bytes`);
  }
}

/** A copy's write to its destination failed; `code` is the errno name (ENOSPC, EIO, ...). */
export class CopyWriteError extends Error {
  override readonly name = 'CopyWriteError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type Reply = { progress: number } | { sha256: string } | { short: number } | { error: { message: string; code?: string; op: 'read' | 'write' } };

interface Job {
  fd: number;
  size: number;
  /** The copy's destination, or undefined to only hash. */
  to: number | undefined;
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
    queue.push({ fd, size, to: undefined, onBytes, resolve, reject });
    dispatch();
  });
}

/**
 * Copies the first `size` bytes of the open file `from` to the same offsets of the open file `to`
 * on a worker thread, each chunk read once, hashed and written: resolves with the sha256 (hex) of
 * exactly the bytes now in `to`. When `from` is sparse (`st_blocks * 512 < st_size`), all-zero 4 KiB
 * blocks are left as holes and `to` is extended to `size` at the end. `to` should be new and
 * empty; it is neither truncated nor fsynced here. `onBytes` hears each chunk copied. Never reads
 * past `size`, so it always ends: rejects with `ShortReadError` when `from` holds fewer bytes, with
 * `CopyWriteError` when a write fails, with the read error (its `code` kept) when a read fails.
 * Both fds must stay open until this settles.
 */
export function copyOpenFileOnWorker(from: number, to: number, size: number, onBytes?: (n: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    queue.push({ fd: from, size, to, onBytes, resolve, reject });
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
    slot.worker.postMessage({ fd: job.fd, size: job.size, to: job.to });
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
    else if (reply.error.op === 'write') job.reject(new CopyWriteError(reply.error.message, reply.error.code));
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
