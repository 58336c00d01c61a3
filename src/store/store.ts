/**
 * The narrow interface the rest of ckptd uses to reach a store: list records, read a record and its
 * files, stage and commit a snapshot, commit a save, change labels, remove, lock, verify, sweep.
 * Everything that knows how a store is laid out (SPEC section 5 for the local store, section 8 for
 * the remote one) lives behind it; `local-store.ts` is the local implementation.
 *
 * The contract, per method, is what `tests/store/conformance.ts` checks against every
 * implementation (the local store, a fault-injecting wrapper, and the remote store to come).
 * Common to all methods:
 * - A record is visible (listed, readable) only once complete: its metadata and all its files are
 *   durable. A write that fails, or is abandoned at any step (a crash, a kill), leaves nothing
 *   visible; what it left behind is invisible and `sweep` removes it.
 * - Ids are unique in a store and sort by creation time (newest = greatest).
 * - Records are returned with `damaged` set (from the verification markers) and, for snapshots,
 *   `incomplete` (from `skipped`).
 * - The writers (`stageSnapshot`, its `commit`, `commitSave`, `updateLabels`, `remove`, `sweep`)
 *   expect the caller to hold the store's lock; once the lock is lost, those that check it
 *   (`commit`, `commitSave`, `remove`) throw `LockLostError` before their commit step and change
 *   nothing visible. `markVerified` is safe without the lock.
 * - An invalid id (anything but `[0-9a-z-]`) is refused before the store is touched.
 */
import type { Readable } from 'node:stream';
import type { KnownBefore } from '../policy/emptied-file.js';
import type { MarkerChange } from './damaged-marker.js';
import type { DeleteSaveResult } from './delete-snapshot.js';
import type { StoredUnit } from './footprint.js';
import type { LabelChange } from './labels.js';
import type { LockHolderInfo, StoreLock } from './lock.js';
import type { ReadSaveMeta, ReadSnapshotHeader, ReadSnapshotMeta, StoreProblem } from './read-store.js';
import type { ActivityWatch } from './store-signature.js';
import type { GuardedRecord, RecordMeta, SaveMeta, ScanEntry, SnapshotMeta } from './types.js';
import type { ChangedFile, OnBytes, VerifyResult } from './verify-snapshot.js';
import type { WriteSaveOptions } from './write-save.js';
import type { StagedSnapshot, WriteSnapshotOptions } from './write-snapshot.js';

export type { ActivityWatch, ChangedFile, LabelChange, LockHolderInfo, MarkerChange, OnBytes, ReadSaveMeta, ReadSnapshotHeader, ReadSnapshotMeta, StagedSnapshot, StoredUnit, StoreLock, StoreProblem, VerifyResult };

/** A record as the readers return it. */
export type StoreRecord = ReadSnapshotMeta | ReadSaveMeta;

/** What `stageSnapshot` captures: `WriteSnapshotOptions` without the store. */
export type StageSnapshotOptions = Omit<WriteSnapshotOptions, 'store'>;

/** What `commitSave` exports: `WriteSaveOptions` without the store. */
export type CommitSaveOptions = Omit<WriteSaveOptions, 'store'>;

export interface RemoveOptions {
  /**
   * Asked with the record as freshly read by `remove` itself: a string returned is a reason to
   * refuse, and `remove` throws `refusing to delete <kind> <id>: <reason>` with nothing removed.
   */
  guard?: (meta: GuardedRecord) => string | null;
  /** For a save: the run's `save.to`, the only folder besides the store's own its export may be removed from. */
  saveTo?: string | null;
  /** The store lock's signal; default: the lock this process holds on the store. */
  signal?: AbortSignal;
  /**
   * The kind of record the caller means. Given, only a record of that kind is removed: when there
   * is no such one with id `id` (none at all, or only a record of the other kind) `remove` throws
   * naming that kind (`no snapshot <id> in <location>` for a snapshot) and removes nothing.
   */
  kind?: 'snapshot' | 'save';
}

/** What `remove` did: what it removed and what of a save it left in place, with the reason. */
export type RemoveResult = DeleteSaveResult;

/** What `sweep` did: leftovers removed, and interrupted saves it completed (their records). */
export interface SweepResult {
  removed: string[];
  completed: string[];
  /** Leftovers that could not be removed (they stay, invisible), with the error. */
  kept?: { path: string; reason: string }[];
}

export interface Store {
  /** Where the store is, for messages (a folder, or a URL). */
  readonly location: string;

  /**
   * Every snapshot, newest first. Anything that is not a complete, valid snapshot is left out
   * (see `findBroken`). An empty or missing store has none. Throws only when the store cannot be
   * read at all (e.g. EACCES).
   */
  listSnapshots(): Promise<ReadSnapshotMeta[]>;
  /**
   * `listSnapshots` without the manifests' entries (`files`): the same snapshots, for a reader
   * that needs only what each one is (retention), so that a store of snapshots of 100,000 files
   * is not held whole in memory.
   */
  listSnapshotHeaders(): Promise<ReadSnapshotHeader[]>;
  /** Every save record, newest first; unreadable records are left out (see `findBroken`). */
  listSaves(): Promise<ReadSaveMeta[]>;
  /** What looks like a record but is not a valid one, with the reason. Never removed by ckptd itself. */
  findBroken(): Promise<StoreProblem[]>;
  /**
   * The newest snapshot neither marked damaged nor incomplete, or null: the one the next snapshot
   * may share files with, retention never deletes, and a resume restores. `opts.like`: a scan of
   * the run (path order) the caller holds beside it (a capture): the entries of the same path may
   * hold that scan's strings where equal (the same values; less memory per file).
   */
  newestGood(opts?: { like?: readonly ScanEntry[] }): Promise<ReadSnapshotMeta | null>;
  /** `newestGood` without its files: for a reader that needs only its digest, kind or trigger. */
  newestGoodHeader(): Promise<ReadSnapshotHeader | null>;
  /**
   * What the newest snapshot (complete or not) and, when it is incomplete or damaged, the newest
   * good one knew of each of `paths` (relative): the larger size they held it at (null: neither
   * did), and whether either left it out. For the "emptied" rule (`policy/emptied-file.ts`), which
   * asks about the few files empty now: an incomplete snapshot newer than the newest good one may
   * be the only one that saw such a file with bytes. Every path asked is in the answer.
   */
  lastKnown(paths: readonly string[]): Promise<Map<string, KnownBefore>>;
  /**
   * The snapshot or save whose id is `idOrPrefix`, or the only one whose id starts with it.
   * Throws `no snapshot or save matches ...` when none does, and names the candidates when several do.
   */
  resolve(idOrPrefix: string): Promise<StoreRecord>;
  /**
   * The bytes of the stored file `relPath` (a `files[].path` of `record`) as a stream, never read
   * whole into memory. Throws when `relPath` is not in the record's manifest or is not a regular
   * file there, and when the stored file is missing or cannot be opened; the stream errors on a
   * later read error. No check of the bytes against the manifest is made here (see `verify`).
   */
  openFile(record: RecordMeta, relPath: string): Promise<Readable>;
  /**
   * Writes the stored bytes of the regular file `relPath` of `record` to `dest`, a NEW file (fails
   * when `dest` exists; never follows a symlink there) with mode `opts.mode`, hashing them on the
   * way, and fsyncs it; resolves to the sha256 and size written. `onBytes` gets each count of bytes
   * written. Throws as `openFile` does; the bytes are not checked against the manifest here (the
   * caller compares, see `restore`). On a rejection `dest` may exist partly written: the caller,
   * who chose the name, removes it. Sparse stored files may leave holes where they hold zeros.
   */
  copyFileOut(record: RecordMeta, relPath: string, dest: string, opts: { mode: number; onBytes?: (n: number) => void }): Promise<{ sha256: string; size: number }>;
  /**
   * The stored target of the symlink `relPath` of `record`, as the store holds it (the caller
   * compares it with the manifest's `target`). Throws when `relPath` is not a symlink of the record
   * or its stored link is missing.
   */
  readLink(record: RecordMeta, relPath: string): Promise<string>;

  /**
   * Captures a snapshot in full without making it visible, and returns the handle that commits or
   * abandons it (`StagedSnapshot`). The id is allocated here (unique, after every existing id of
   * the same millisecond). On any error nothing is visible and what was staged is removed; a full
   * disk is a `NoSpaceError`. A staged snapshot neither committed nor abandoned stays invisible
   * until `sweep` removes it. What the options ask is kept (see `WriteSnapshotOptions`): the files
   * of `previous` (unless damaged) that are unchanged are shared, not stored again (`linked_bytes`,
   * not `copied_bytes`); `label`'s result, read from the captured files, replaces `progress` and
   * `modelType`; `neverSettled` is listed in `skipped` (the snapshot then reads as `incomplete` and
   * is never `newestGood`), `leftOut` as `left_out`.
   */
  stageSnapshot(opts: StageSnapshotOptions): Promise<StagedSnapshot>;
  /**
   * Copies snapshot `record` of the store `from` into this one, under the same id and labels
   * (`ckptd pull`, `ckptd push`), each file checked against the manifest before the snapshot is
   * visible; all or nothing, as `stageSnapshot` + `commit`. Throws when this store already has a
   * record with that id, when a file does not match (`... is damaged ...`) and when the lock is lost.
   */
  importSnapshot(from: Store, record: SnapshotMeta, opts?: { onBytes?: (n: number) => void; signal?: AbortSignal }): Promise<SnapshotMeta>;
  /**
   * Exports the run's model files as a save and commits its record. Visible (record listed) only
   * once the export is complete; an error before the commit removes the export and the record
   * (an interruption leaves them for `sweep`, which completes a save whose export is in place).
   */
  commitSave(opts: CommitSaveOptions): Promise<SaveMeta>;
  /**
   * Changes the labels (name, notes, pinned) of record `idOrPrefix`, atomically, every other field
   * unchanged; returns the record as it now is. Throws as `resolve` does. `opts.signal`: the lock
   * it is made under (default: the lock this process holds on the store); once that lock is lost it
   * throws `LockLostError` and the record stays as it was.
   */
  updateLabels(idOrPrefix: string, change: LabelChange, opts?: { signal?: AbortSignal }): Promise<StoreRecord>;
  /**
   * Removes record `id` (an exact id) and its verification marker. Throws when there is no such
   * record or `opts.guard` refuses (nothing removed then). A snapshot vanishes atomically; a save
   * loses only the files its record lists that still look as recorded (others are reported in
   * `kept`), its record last. Files shared with records that stay remain theirs. Pinned records are
   * not refused here: that is for the guard.
   */
  remove(id: string, opts?: RemoveOptions): Promise<RemoveResult>;
  /** What `record` occupies in the store, unit by unit: what deleting records frees. */
  storedUnits(record: RecordMeta): Promise<StoredUnit[]>;

  /**
   * Re-reads and re-hashes every stored file of `record` against its manifest: missing, changed
   * (size, sha256, type, symlink target; read errors such as EIO) and extra files. Writes nothing.
   * Throws when the store cannot be read (EACCES) or the id is invalid: not a verdict.
   */
  verify(record: StoreRecord, onBytes?: OnBytes): Promise<VerifyResult>;
  /**
   * Records a finished verification: a failed one marks the record damaged (it then reads as
   * `damaged: true` and is never `newestGood`), a clean one clears the mark. Returns `record-gone`
   * and writes nothing when the record no longer exists. Safe beside a writer holding the lock.
   */
  markVerified(result: VerifyResult, now: number): Promise<MarkerChange>;

  /**
   * Creates the store when missing, durably (what is later committed into it cannot vanish with
   * it at a power loss); an existing store is left as it is. Throws when it cannot be created.
   */
  ensure(): Promise<void>;
  /**
   * Bytes the store can still take (for an unprivileged writer; for a store not created yet, where
   * it would be created); `Infinity` when it has no such limit.
   */
  freeBytes(): Promise<number>;
  /**
   * Files and folders (inodes) the store's file system can still create, as `freeBytes` reads it;
   * `Infinity` when it has no such count (a remote store, or a file system that reports none).
   */
  freeInodes(): Promise<number>;
  /** True when the store clones files copy-on-write (changed files cost no space until they diverge); never throws. */
  sharesCopyOnWrite(): Promise<boolean>;
  /**
   * Who holds the store's lock (from its owner record), with `alive` false when that holder is
   * dead, or null when none is recorded. Safe without the lock.
   */
  lockHolder(): Promise<(LockHolderInfo & { alive: boolean }) | null>;
  /**
   * Takes the store's single-writer lock for `info`; throws `StoreLockedError` naming the holder
   * when another live writer has it. `onCompromised` is called once if the lock is later lost.
   */
  lock(info: LockHolderInfo, onCompromised?: (err: Error) => void): Promise<StoreLock>;
  /**
   * Removes what interrupted writes left (staged snapshots, trash, temp names in the store and in
   * `saveDirs`, markers of records that are gone) and completes saves interrupted after their
   * export was in place. Call it holding the lock with no write in progress. Afterwards the store
   * holds exactly its visible records.
   */
  sweep(saveDirs?: string[]): Promise<SweepResult>;

  /**
   * A token that changes whenever a record appears, goes, has its labels changed or its damaged
   * mark set or cleared. Cheap enough to poll every few seconds.
   */
  signature(): Promise<string>;
  /**
   * Early hints that `signature` may have changed (best effort; may call `onActivity` for nothing,
   * and may miss changes: callers poll `signature` too). Absent when the store has no such hints.
   */
  watchActivity?(onActivity: () => void): ActivityWatch;
}
