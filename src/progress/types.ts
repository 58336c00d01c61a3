/**
 * Types of the progress readers. A source is a pure function over a `RunView`: a listing of the
 * run's files and callbacks that read a few small files. Only `read-progress.ts` touches the disk,
 * so every source can be tested with an in-memory view.
 */
import type { TrainerInfo } from '../policy/types.js';

/** One file of the run as the shell's scan listed it. */
export interface RunFile {
  /** Relative POSIX path inside the run folder. */
  path: string;
  /** Last modification time, ms since the Unix epoch. */
  mtimeMs: number;
}

/**
 * Reads a small text file of the run (path relative to the run folder, POSIX separators).
 * Resolves to null when the file is missing, unreadable, not a regular file, or bigger than the
 * read cap; never rejects.
 */
export type ReadText = (relPath: string) => Promise<string | null>;

/**
 * The first `maxBytes` bytes of a file of the run (the whole file when it is smaller; a shorter
 * buffer than asked therefore means the file ended), for binary files read only in part, such as a
 * pickle's leading values. Null when the file is missing, unreadable or not a regular file; never
 * rejects. Unlike `ReadText`, a big file is not refused: only its prefix is read.
 */
export type ReadPrefix = (relPath: string, maxBytes: number) => Promise<Buffer | null>;

/**
 * `length` bytes of a file of the run from byte `position`, for a value at a known place in a big
 * binary file (a scalar in a TensorFlow checkpoint's data file). Null when the file is missing,
 * unreadable, not a regular file, or holds fewer bytes there; never rejects.
 */
export type ReadRange = (relPath: string, position: number, length: number) => Promise<Buffer | null>;

/**
 * Chooses the zip entry to read from the archive's entry names (in central directory order): the
 * name of one of them, or null for none.
 */
export type ZipEntryPick = (names: readonly string[]) => string | null;

/**
 * The first `maxBytes` bytes (all of it when shorter) of the entry `pick` chooses inside a zip
 * archive of the run, such as the pickle of a `torch.save` checkpoint: a stored entry is read only
 * in part, however big; a deflated one only when it fits `maxBytes` whole. Null when the file is
 * missing, not a regular file, not a readable zip, or `pick` chooses nothing; never rejects.
 */
export type ReadZipPrefix = (relPath: string, pick: ZipEntryPick, maxBytes: number) => Promise<Buffer | null>;

/**
 * The first `headBytes` and the last `tailBytes` bytes of a file of the run, read through one open
 * (each the whole file when it is smaller), for a text file too big to read whole whose values sit
 * at its two ends (a long `trainer_state.json`). Null when the file is missing, unreadable or not a
 * regular file; never rejects.
 */
export type ReadEnds = (relPath: string, headBytes: number, tailBytes: number) => Promise<{ head: Buffer; tail: Buffer } | null>;

/** The mtime (ms) of a file of the run, or null when it is missing or unreadable; never rejects. */
export type ReadMtime = (relPath: string) => Promise<number | null>;

/**
 * What a source sees of a run. `files` excludes ckptd's own files (such as `.ckptd-progress.json`),
 * which is why `read` and `mtimeMs` work on any relative path, listed or not.
 */
export interface RunView {
  files: readonly RunFile[];
  read: ReadText;
  readPrefix: ReadPrefix;
  readRange: ReadRange;
  readZipPrefix: ReadZipPrefix;
  readEnds: ReadEnds;
  mtimeMs: ReadMtime;
}

/** What one source found: progress values and how recent the evidence is. */
export interface Reading {
  epoch: number | null;
  step: number | null;
  loss: number | null;
  metrics: Record<string, number>;
  /** mtime (ms) of the newest file the values came from; decides merges with `.ckptd-progress.json`. */
  atMs: number;
  /** The trainer's account of the model (DeepFaceLab's model name and options), when the source reads one. */
  trainer?: TrainerInfo;
}

/** A reading with the name of the source that found it (`hf`, `file`, ...), for `Progress.source`. */
export interface NamedReading {
  name: string;
  reading: Reading;
}

/** A progress source: resolves to what it found, or null when it found nothing. Never rejects. */
export type Source = (view: RunView) => Promise<Reading | null>;
