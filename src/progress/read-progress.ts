/**
 * The IO shell of progress reading: a `RunView` over a run folder on disk, and `readProgress`,
 * which the daemon and the CLI call with the files their scan found.
 */
import { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ProgressSpec } from '../config/types.js';
import type { Progress } from '../policy/types.js';
import { mtimeMsOf } from '../util/fs.js';
import { isInside } from '../util/paths.js';
import { CKPTD_PROGRESS_FILE } from './ckptd-progress-file.js';
import { readEnds, withRangeReader, type RangeReader } from './read-range.js';
import { readProgressFromView } from './read-view.js';
import type { RunFile, RunView } from './types.js';
import { readZipEntryPrefix } from './zip-entry.js';

/**
 * The biggest file a progress source reads (8 MiB). Bigger files are treated as not-a-progress-file:
 * sources only read small state files, never models, and memory must not grow with file size.
 * A `trainer_state.json` with a long `log_history` passes a few MB, hence not less; past the cap
 * the `hf` preset reads its two ends (`hf-long-state.ts`).
 */
export const MAX_READ_BYTES = 8 * 1024 * 1024;

/** A scan's (or a manifest's) entries as the `files` progress reading takes: path and mtime in ms. */
export function runFilesOf(entries: readonly { path: string; mtimeNs: string }[]): RunFile[] {
  return entries.map((e) => ({ path: e.path, mtimeMs: mtimeMsOf(e.mtimeNs) }));
}

/**
 * The progress of the run in `runDir`, read as `spec` says from `files` (the shell's scan: relative
 * POSIX paths with mtimes; ckptd's own files need not be listed) plus `.ckptd-progress.json`, merged
 * by the rule in `merge-readings.ts`. Reads only the few small files the source needs, each at most
 * `MAX_READ_BYTES`. Returns the empty progress (`source: null`) when nothing is found; never
 * rejects because of missing, unreadable, huge or malformed trainer files.
 */
export async function readProgress(runDir: string, spec: ProgressSpec, files: RunFile[]): Promise<Progress> {
  return readProgressFromView(diskView(runDir, files), spec);
}

/**
 * The progress that a snapshot's captured files hold: `files` (relative paths with the mtimes their
 * sources had when captured) are read from `filesDir`, the snapshot's copy, so the values describe
 * exactly the bytes stored, whatever the trainer wrote since. `.ckptd-progress.json` is never part
 * of a state, so it alone is read from the live `runDir`. Never rejects (see `readProgress`).
 */
export async function readCapturedProgress(filesDir: string, runDir: string, spec: ProgressSpec, files: RunFile[]): Promise<Progress> {
  const captured = diskView(filesDir, files);
  const live = diskView(runDir, []);
  const mtimes = new Map(files.map((f) => [f.path, f.mtimeMs]));
  const view: RunView = {
    files,
    read: (rel) => (rel === CKPTD_PROGRESS_FILE ? live.read(rel) : captured.read(rel)),
    readPrefix: captured.readPrefix,
    readRange: captured.readRange,
    readZipPrefix: captured.readZipPrefix,
    readEnds: captured.readEnds,
    // The copies' own mtimes are the time of the copy: the sources' are the ones that order files.
    mtimeMs: (rel) => (rel === CKPTD_PROGRESS_FILE ? live.mtimeMs(rel) : Promise.resolve(mtimes.get(rel) ?? null)),
  };
  return readProgressFromView(view, spec);
}

/**
 * A `RunView` over `runDir`: `files` as given; `read` opens the file (following symlinks that stay
 * inside `runDir`, without blocking on FIFOs), and resolves to null unless it is a regular file of
 * at most `maxBytes`, decoded as UTF-8; `readPrefix` reads the start of a regular file of any size,
 * `readRange` a range of it, `readZipPrefix` the start of one entry of a zip file of any size,
 * `readEnds` the start and the end of a file of any size; `mtimeMs` stats it. A path whose real
 * path is not inside `runDir`'s (a symlink out of the run, SPEC section 6) is never opened: it
 * reads as missing. None ever rejects.
 */
export function diskView(runDir: string, files: readonly RunFile[], maxBytes = MAX_READ_BYTES): RunView {
  let root: Promise<string | null> | undefined;
  /** The real path of `rel` when it lies inside the folder's real path; null otherwise (or missing). */
  const inside = async (rel: string): Promise<string | null> => {
    root ??= fsp.realpath(runDir).catch(() => null);
    const [base, real] = await Promise.all([root, fsp.realpath(path.resolve(runDir, rel)).catch(() => null)]);
    return base !== null && real !== null && real !== base && isInside(real, base) ? real : null;
  };
  const ranged = <T>(rel: string, use: (reader: RangeReader) => Promise<T | null>): Promise<T | null> =>
    inside(rel).then((real) => (real === null ? null : withRangeReader(real, use)));
  return {
    files,
    read: (rel) =>
      inside(rel)
        .then((real) => (real === null ? null : readSmallFile(real, maxBytes)))
        .catch(() => null),
    readPrefix: (rel, prefixBytes) => ranged(rel, (reader) => reader.read(0, Math.min(reader.size, prefixBytes))),
    readRange: (rel, position, length) => ranged(rel, async (reader) => (position + length <= reader.size ? reader.read(position, length) : null)),
    readZipPrefix: (rel, pick, prefixBytes) => ranged(rel, (reader) => readZipEntryPrefix(reader, pick, prefixBytes)),
    readEnds: (rel, headBytes, tailBytes) => ranged(rel, (reader) => readEnds(reader, headBytes, tailBytes)),
    mtimeMs: (rel) =>
      inside(rel)
        .then((real) => (real === null ? null : fsp.stat(real)))
        .then(
          (st) => (st?.isFile() ? st.mtimeMs : null),
          () => null,
        ),
  };
}

async function readSmallFile(file: string, maxBytes: number): Promise<string | null> {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer. O_NOFOLLOW: `file` is a real
  // path, a symlink at it now was swapped in since.
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > maxBytes) return null;
    // One byte past the stat's size: a file still growing is refused rather than read torn.
    const buf = Buffer.alloc(st.size + 1);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > st.size) return null;
    return buf.subarray(0, filled).toString('utf8');
  } finally {
    await fh.close();
  }
}
