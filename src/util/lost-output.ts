/**
 * Keeps a long-running command alive when whatever reads its stdout or stderr goes away (`ckptd
 * daemon | tee log` and the tee killed by the same Ctrl-C, a dropped ssh session): the next write
 * fails with EPIPE, which, with no listener, ends the process. Its log lines are lost from then on;
 * its backups, and its supervision of a trainer, are not. Also: a one-shot command's output to a
 * file is written whole or fails it (`writeFileOutputWhole`, `outputFailure`).
 */
import fs from 'node:fs';

/** Set once a command's output is its log (`surviveLostOutput`): see `outputFailure`. */
let outputIsLog = false;

/**
 * Ignores write errors of stdout and stderr until the returned function is called; from then on,
 * a failed write is no failure of the command (`outputFailure`).
 */
export function surviveLostOutput(): () => void {
  outputIsLog = true;
  const ignore = (): void => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  return () => {
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  };
}

/**
 * What made stdout's writes fail (`err`: what its last write reported), when that fails the
 * command: its output is what a script reads (`ckptd list --json > state.json` on a full disk), so
 * an exit 0 would hand it an empty or cut file as the answer. Null when nothing failed, when the
 * reader went away (EPIPE: `ckptd list --json | head -1` just ends), and for a command whose
 * output is its log (`surviveLostOutput`: `ckptd run` exits with its trainer's code).
 */
export function outputFailure(err: Error | null | undefined): Error | null {
  if (err === null || err === undefined || outputIsLog) return null;
  // After a first error the stream is destroyed: later writes report that, the stream keeps the cause.
  const cause = process.stdout.errored ?? err;
  return (cause as NodeJS.ErrnoException).code === 'EPIPE' ? null : cause;
}

/**
 * Makes each write to stdout, when stdout is a file, write all its bytes or fail with the error:
 * Node's stream for a file ignores how much write(2) took, so on a disk with less room left than a
 * write needed (or past RLIMIT_FSIZE) `ckptd list --json > state.json` kept a cut document and the
 * command exited 0. Now the rest is written, and the error that stops it (ENOSPC, EFBIG) reaches
 * `outputFailure`. A pipe or a terminal is left as it is: Node writes those whole.
 */
export function writeFileOutputWhole(): void {
  const out = process.stdout as NodeJS.WriteStream & { fd?: unknown };
  if (out.constructor.name !== 'SyncWriteStream' || typeof out.fd !== 'number') return;
  const fd = out.fd;
  out._write = (chunk: Buffer | string, encoding: BufferEncoding, done: (err?: Error | null) => void): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    try {
      for (let off = 0; off < bytes.length; ) {
        const n = fs.writeSync(fd, bytes, off, bytes.length - off);
        if (n === 0) throw new Error(`wrote nothing of the last ${bytes.length - off} bytes`);
        off += n;
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  };
}
