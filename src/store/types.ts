/**
 * The on-disk contract of a store (SPEC section 5) and the facts the shell passes around.
 *
 * <store>/
 *   snapshots/<id>/snapshot.json   metadata, written last (a folder without it is not a snapshot)
 *   snapshots/<id>/files/...       the captured state as plain read-only files
 *   saves/...                      default save.to
 *   save-records/<id>.json         metadata of each save (saves may live outside the store)
 *   damaged/<id>.json              marker of a snapshot or save that failed verification
 *   state.json                     persisted policy anchors and counters (RunState)
 *   restored.json                  the files the last restore wrote, as they are in place (restored-record.ts)
 *   daemon.json, daemon.lock       who writes this store (one writer at a time)
 *   requests/                      requests from the CLI to a running daemon
 *   .staging/                      work in progress; never visible as a snapshot; swept at start
 */
import type { TrainerInfo } from '../policy/types.js';

export type SnapshotKind = 'backup' | 'manual' | 'pre-restore';
export type RecordKind = SnapshotKind | 'save';

/** One file of the run as the scanner saw it (never followed through symlinks). */
export interface ScanEntry {
  /** Relative POSIX path inside the run folder. */
  path: string;
  type: 'file' | 'symlink';
  size: number;
  /** mtime in nanoseconds as a decimal string (bigint precision, JSON-safe). */
  mtimeNs: string;
  ino: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Link target, for symlinks. */
  target?: string;
  /**
   * ctime in nanoseconds (decimal string), as the scan saw it: with `ino`, tells a rewrite that kept
   * size and mtime (`cp -p`, `touch -r`). Absent when unknown (then the file is never linked).
   */
  ctimeNs?: string;
  /**
   * Bytes of the file's data on disk (`st_blocks` x 512), present only when under `size`: a sparse
   * file (preallocated, `truncate`d), whose copy keeps its holes and so needs only this much space.
   */
  allocated?: number;
}

/** One stored file of a snapshot or save, as recorded in `snapshot.json`. */
export interface ManifestEntry {
  path: string;
  size: number;
  /** sha256 (hex) of the stored bytes; for a symlink, of its target string. */
  sha256: string;
  mode: number;
  /** Present for symlinks only. */
  type?: 'symlink';
  target?: string;
  /** The source file's mtime (ns, decimal string) when it was captured: lets the next snapshot link it. */
  mtime_ns: string;
  /**
   * The source's inode and ctime (ns, decimal string) when it was captured. The next snapshot links
   * the stored file only when size, mtime, mode, inode and ctime are all unchanged; an entry without
   * them (written by an older ckptd) is never linked from (see `unchangedSince`).
   */
  ino?: number;
  ctime_ns?: string;
}

/** `snapshot.json` and each `list --json` item. Field names are the SPEC's (snake_case). */
export interface SnapshotMeta {
  id: string;
  run: string;
  kind: SnapshotKind;
  name: string | null;
  notes: string | null;
  pinned: boolean;
  /** ISO 8601 UTC. */
  created: string;
  trigger: string;
  epoch: number | null;
  step: number | null;
  loss: number | null;
  metrics: Record<string, number>;
  model_type: string | null;
  /** What the trainer's own files say of the model (DeepFaceLab: model name, options); only when known. */
  trainer?: TrainerInfo;
  /** Apparent size: the sum of the stored files' sizes. */
  bytes: number;
  /** Absolute path of the snapshot's `files/` folder (recomputed on read). */
  path: string;
  files: ManifestEntry[];
  /** Digest of the scanned state this snapshot captured (see `stateDigest`). */
  state_digest: string;
  /**
   * The `ckptd run` session whose daemon took it (`SessionRecord.session_id`): `--resume` tells the
   * backups of an interrupted training from those taken of the run after it. Absent otherwise.
   */
  session?: string;
  /** Files left out because they kept changing or could not be read: the snapshot is incomplete. */
  skipped: { path: string; reason: string }[];
  /**
   * True when `skipped` is not empty: the snapshot is not a complete copy of the state. Written in
   * `snapshot.json` since issue 11; the readers always derive it from `skipped` (older files lack it).
   */
  incomplete?: boolean;
  /**
   * Files and folders (`name/`) the rules select that no snapshot can hold (a name that is not
   * valid UTF-8), shown with `\xNN` escapes. Unlike `skipped`, they do not make it incomplete.
   * Missing in snapshots written before this field existed.
   */
  left_out?: LeftOut[];
  /** Bytes copied vs. hard-linked from the previous snapshot when it was taken. */
  copied_bytes: number;
  linked_bytes: number;
  format: 1;
  /**
   * True when `<store>/damaged/<id>.json` marks it as having failed verification. Never stored in
   * `snapshot.json`: the readers (`listSnapshots`, `readSnapshot`, `resolveId`) always set it from
   * the marker; the metadata `writeSnapshot` returns leaves it out (a new snapshot is not damaged).
   */
  damaged?: boolean;
}

/** A snapshot's metadata without its manifest's entries. */
export type SnapshotHeader = Omit<SnapshotMeta, 'files'>;

/** A save's record (`save-records/<id>.json`) and its `list` item. */
export interface SaveMeta {
  id: string;
  run: string;
  kind: 'save';
  name: string | null;
  notes: string | null;
  pinned: boolean;
  created: string;
  trigger: string;
  epoch: number | null;
  step: number | null;
  loss: number | null;
  metrics: Record<string, number>;
  model_type: string | null;
  /** As `SnapshotMeta.trainer`: that of the progress the save was exported at. */
  trainer?: TrainerInfo;
  bytes: number;
  /** Absolute path of the exported file, or of the folder when several model files were exported. */
  path: string;
  files: ManifestEntry[];
  /** The backup this save was exported from, when there was one. */
  from_snapshot: string | null;
  format: 1;
  /** As `SnapshotMeta.damaged`: set by the readers from the marker, never stored in the record. */
  damaged?: boolean;
}

export type RecordMeta = SnapshotMeta | SaveMeta;

/** What a deletion's guard is asked with: a snapshot without its manifest's entries, or a save's record. */
export type GuardedRecord = SnapshotHeader | SaveMeta;

/** A file or folder (`name/`) a snapshot does not hold, and why. */
export interface LeftOut {
  path: string;
  reason: string;
}
