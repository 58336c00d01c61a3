/**
 * The state of one `captureState` call, shared by its passes: a slot per file (the version it
 * expects, what was captured of it or why it was skipped, whether a changed version has settled),
 * the byte counters (copied, linked, done, total) and the errors so far.
 *
 * Contract: the slots and the counters change only through the methods here, so they always agree:
 * `copiedBytes` and `linkedBytes` count the slots captured by copy and by link (an uncaptured slot
 * gives its bytes back), `done` only grows, and `total` grows by a file's size each time a
 * captured file has to be captured again. A slot is finished once captured or skipped; a skipped
 * slot stays skipped. After the first error nothing new is started and that error is thrown.
 */
import path from 'node:path';
import type { Captured } from './capture-file.js';
import type { CapturedState, CaptureStateOptions } from './capture-state.js';
import { DirMaker } from './dir-maker.js';
import { RunFolders } from './opened-path.js';
import { matchByPath } from './match-by-path.js';
import { linkedManifestOf, manifestOf, previousByPath, sameSeen, seenOfEntry, sha256Text, toEntry, toSeen, type Seen } from './source-seen.js';
import { SyncBatch } from './sync-fs.js';
import { joinerUnder } from '../util/paths.js';
import type { ManifestEntry, ScanEntry } from './types.js';

/** One file of the state and how far its capture got. */
export interface Slot {
  entry: ScanEntry;
  /**
   * The previous snapshot's manifest entry of the same path (sharing its strings with `entry`, see
   * `previousByPath`), to link from when `unchangedSince`; null when it holds no such file.
   */
  prev: ManifestEntry | null;
  /**
   * The version captured (an lstat of it), null while not captured. With `manifest` and `how`,
   * fields of the slot rather than an object of their own: 100,000 files, 2.4 MB less held.
   */
  captured: Seen | null;
  /** What `snapshot.json` records of the captured file; null while not captured. */
  manifest: ManifestEntry | null;
  /** How it was captured; null while not captured. */
  how: 'copy' | 'link' | 'symlink' | null;
  skipped: string | null;
  /**
   * When `entry` (a version that appeared during the capture) was first seen (ms since the epoch);
   * null for the caller's settled version. Such a version is captured only once settled.
   */
  changedAt: number | null;
  /** Why the changed version is not settled yet, from the last check; null when it is (never for a version not yet judged). */
  unsettled: string | null;
  /** A process held it open for writing at the last check. */
  heldOpen: boolean;
}

/** What one pass did with a slot: finished it (captured or skipped), or left it for the next pass. */
export type Outcome = { kind: 'done' } | { kind: 'retry' };
export const DONE: Outcome = { kind: 'done' };
export const RETRY: Outcome = { kind: 'retry' };

/** The slots of one capture, where they come from and go, and its counters (see the file comment). */
export class CaptureSet {
  readonly runDir: string;
  readonly dest: string;
  /** The previous snapshot's `files/` folder and manifest, to link unchanged files from. */
  readonly previous: CaptureStateOptions['previous'];
  readonly slots: Slot[];
  readonly dirs: DirMaker;
  /** The run's folders open for this pass's lookups inside the run (`inRunSeen`); closed after each pass. */
  readonly folders: RunFolders;
  private readonly onProgress: CaptureStateOptions['onProgress'];
  private copied_ = 0;
  private linked_ = 0;
  private done_ = 0;
  private total_: number;
  /** Errors so far, first one first. */
  private readonly failures: unknown[] = [];
  /**
   * Small copies closed without an fsync, to be made durable at once by `syncUnsynced` (one syncfs
   * of the store's file system); null while each copy is fsynced on its own (see `deferSyncs`).
   */
  private unsynced: Set<string> | null = null;
  /** The syncfs that makes `unsynced` durable, begun before the first of them was written. */
  private batch: SyncBatch | null = null;
  /** Set once `syncUnsynced` made everything under `dest` durable. */
  private synced_ = false;
  /** Set once a version other than the caller's was seen (`changed`): the capture follows a later state. */
  private movedOn_ = false;

  /** `runReal`: the real path of `opts.runDir`, the folder every source must really be in. */
  constructor(
    opts: CaptureStateOptions,
    private readonly runReal: string,
  ) {
    this.runDir = opts.runDir;
    this.dest = opts.dest;
    this.srcOf = joinerUnder(opts.runDir);
    this.dstOf = joinerUnder(opts.dest);
    this.realOf = joinerUnder(runReal);
    this.storedOf = joinerUnder(opts.previous?.filesDir ?? '/');
    this.previous = opts.previous;
    const prev = previousByPath(opts.previous?.files ?? [], opts.entries);
    this.slots = opts.entries.map((entry, i): Slot => ({ entry, prev: prev[i]!, captured: null, manifest: null, how: null, skipped: null, changedAt: null, unsettled: null, heldOpen: false }));
    this.dirs = new DirMaker(opts.dest);
    this.folders = new RunFolders(opts.runDir, runReal);
    this.onProgress = opts.onProgress;
    this.total_ = opts.entries.reduce((n, e) => n + e.size, 0);
  }

  get copiedBytes(): number {
    return this.copied_;
  }
  get linkedBytes(): number {
    return this.linked_;
  }
  /** Bytes done so far. */
  get done(): number {
    return this.done_;
  }
  /** Bytes to do: the state's size, plus each file captured again. */
  get total(): number {
    return this.total_;
  }

  /** The source of the file at `rel`, as the run's path names it (`path.join(runDir, rel)`). */
  readonly srcOf: (rel: string) => string;
  /** Where the file at `rel` is stored (`path.join(dest, rel)`). */
  readonly dstOf: (rel: string) => string;
  /** The real path a source must be opened at (`path.join(runReal, rel)`). */
  readonly realOf: (rel: string) => string;
  /** The previous snapshot's stored file at `rel` (`path.join(previous.filesDir, rel)`); only with a previous snapshot. */
  readonly storedOf: (rel: string) => string;
  /** A slot's lstat inside the run (never through a swapped folder: throws `PathSwappedError`); null when gone. */
  inRunSeen(slot: Slot): Seen | null {
    const got = this.folders.lstat(slot.entry.path);
    return got === null ? null : toSeen(got.st, got.target);
  }

  /** A run folder lookup of its own, for a pass that must check the folders anew (the consistency pass). */
  runFolders(): RunFolders {
    return new RunFolders(this.runDir, this.runReal);
  }

  /** The slots neither captured nor skipped. */
  pending(): Slot[] {
    return this.slots.filter((s) => s.captured === null && s.skipped === null);
  }

  /** Leaves a slot out, for `reason`: it is done. */
  skip(slot: Slot, reason: string): Outcome {
    slot.skipped = reason;
    return DONE;
  }

  /**
   * A new version of a slot's file appeared: it must settle before it is captured, so it stays
   * unsettled until a later pass judges it (`judgeChanged`); the verdict so far was on the old one.
   */
  changed(slot: Slot, now: Seen): void {
    this.movedOn_ = true;
    if (slot.entry.size > 0 && now.type === 'file' && now.size === 0) this.emptiedDuring.set(slot.entry.path, slot.entry.size);
    slot.entry = toEntry(slot.entry.path, now);
    slot.changedAt = Date.now();
    slot.unsettled = 'changed since the last check';
  }

  /**
   * Files seen with bytes (the caller's version, or one a pass saw) and found empty later in this
   * capture, with the size they had: a write begun (`SettleRule.emptiedDuring`). Few, if any.
   */
  readonly emptiedDuring = new Map<string, number>();

  /** Whether some file was seen at another version than the caller's: the state captured is a later one. */
  get movedOn(): boolean {
    return this.movedOn_;
  }

  /**
   * Files of `now` (a scan of the run, in path order) that no slot holds: files that appeared during
   * the capture, part of the later state it follows. Each gets a slot, a new version to be captured
   * once settled like any changed one; skipped ("appeared during the capture") on the `last` pass,
   * or when it stands where a slot's path has a folder, or under a slot's file (a folder became a
   * file or the other way round: both cannot be stored). Keeps the slots in path order; returns how
   * many are to be captured.
   */
  appeared(now: readonly ScanEntry[], last: boolean): number {
    const held = matchByPath(
      this.slots.map((s) => s.entry),
      now,
    );
    const added = now.filter((_, i) => held[i] === null);
    if (added.length === 0) return 0;
    const files = new Set(this.slots.map((s) => s.entry.path));
    const folders = new Set<string>();
    for (const p of files) for (let d = path.posix.dirname(p); d !== '.' && !folders.has(d); d = path.posix.dirname(d)) folders.add(d);
    const clashes = (rel: string): boolean => {
      if (folders.has(rel)) return true;
      for (let d = path.posix.dirname(rel); d !== '.'; d = path.posix.dirname(d)) if (files.has(d)) return true;
      return false;
    };
    const prev = previousByPath(this.previous?.files ?? [], added);
    const at = Date.now();
    let toCapture = 0;
    added.forEach((entry, i) => {
      const slot: Slot = { entry, prev: prev[i]!, captured: null, manifest: null, how: null, skipped: null, changedAt: at, unsettled: 'appeared during the capture', heldOpen: false };
      if (last || clashes(entry.path)) slot.skipped = 'appeared during the capture';
      else toCapture++;
      this.slots.push(slot);
      this.total_ += entry.size;
    });
    this.slots.sort((a, b) => (a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0));
    return toCapture;
  }

  /** A slot captured as a symlink recreated at its target. */
  symlinked(slot: Slot, seen: Seen): void {
    const version = sharedSeen(slot, seen);
    const manifest = manifestOf(slot.entry, version, sha256Text(version.target!));
    manifest.type = 'symlink';
    manifest.target = version.target!;
    capture(slot, version, manifest, 'symlink');
    this.done_ += seen.size;
  }

  /** A slot captured as a link to the previous snapshot's stored file, recorded there as `stored` (its digest kept). */
  linked(slot: Slot, seen: Seen, stored: ManifestEntry): void {
    const version = sharedSeen(slot, seen);
    capture(slot, version, linkedManifestOf(slot.entry, version, stored), 'link');
    this.linked_ += seen.size;
    this.done_ += seen.size;
  }

  /**
   * A slot captured by a copy of its entry's version (`c`: its digest, size and the source's ctime
   * once read; the copy checked the open source against the entry). Not counted in `done`: see `progressed`.
   */
  copied(slot: Slot, c: Captured): void {
    const e = slot.entry;
    const same = seenOfEntry(e);
    const version: Seen =
      same !== null && same.type === 'file' && same.ctimeNs === c.ctimeNs
        ? same
        : { type: 'file', size: e.size, mtimeNs: e.mtimeNs, ctimeNs: c.ctimeNs, ino: e.ino, mode: e.mode };
    capture(slot, version, manifestOf(e, version, c.sha256), 'copy');
    this.copied_ += c.size;
  }

  /** `n` more bytes copied. */
  progressed(n: number): void {
    this.done_ += n;
  }

  /** Tells the caller's `onProgress` the counters as they are. */
  report(): void {
    this.onProgress?.(this.done_, this.total_);
  }

  /**
   * From now on small copies are closed without an fsync and listed, for `syncUnsynced` to make
   * durable all at once (the caller checked `canSyncFileSystem`).
   */
  deferSyncs(): void {
    if (this.unsynced !== null) return;
    this.batch = new SyncBatch(this.dest);
    this.unsynced = new Set();
  }

  /** Whether small copies are left unsynced for `syncUnsynced` (see `deferSyncs`). */
  get syncsDeferred(): boolean {
    return this.unsynced !== null;
  }

  /** A small copy at `rel`, closed without an fsync: `syncUnsynced` makes it durable. */
  unsyncedCopy(rel: string): void {
    this.unsynced!.add(rel);
  }

  /**
   * Makes every copy left unsynced durable with one syncfs of the destination's file system, which
   * also makes every folder, link and symlink made under it durable (`result().synced`); nothing
   * when there is none. Rejects when syncfs reports an error.
   */
  async syncUnsynced(): Promise<void> {
    if (this.unsynced === null || this.unsynced.size === 0) return;
    await this.batch!.sync();
    this.unsynced.clear();
    this.synced_ = true;
  }

  /** A captured slot whose source changed or vanished since: no longer captured, its bytes to do again. */
  uncapture(slot: Slot): void {
    const captured = slot.captured;
    if (captured === null) return;
    this.unsynced?.delete(slot.entry.path);
    if (slot.how === 'copy') this.copied_ -= captured.size;
    if (slot.how === 'link') this.linked_ -= captured.size;
    this.total_ += slot.entry.size;
    slot.captured = null;
    slot.manifest = null;
    slot.how = null;
  }

  /** Records an error; the first one is thrown by `throwIfFailed`. */
  fail(err: unknown): void {
    this.failures.push(err);
  }

  /** Whether an error was recorded. */
  get failed(): boolean {
    return this.failures.length > 0;
  }

  /** Throws the first error recorded, if any. */
  throwIfFailed(): void {
    if (this.failures.length > 0) throw this.failures[0];
  }

  /** What was captured and left out, for `captureState`'s caller. */
  result(): CapturedState {
    const kept = this.slots.filter((s) => s.captured !== null);
    return {
      files: kept.map((s) => s.manifest!),
      // A slot's entry is the version captured (it is `captured` itself when the entry had a ctime).
      entries: kept.map((s) => (s.captured === s.entry ? s.entry : toEntry(s.entry.path, s.captured!))),
      skipped: this.slots.filter((s) => s.skipped !== null).map((s) => ({ path: s.entry.path, reason: s.skipped! })),
      copiedBytes: this.copied_,
      linkedBytes: this.linked_,
      dirs: this.dirs.created(),
      synced: this.synced_,
    };
  }
}

/** Records a slot as captured: the version, its manifest entry and how. */
function capture(slot: Slot, version: Seen, manifest: ManifestEntry, how: 'copy' | 'link' | 'symlink'): void {
  slot.captured = version;
  slot.manifest = manifest;
  slot.how = how;
}

/**
 * `seen`, or the slot's entry itself when it describes exactly that version: a capture of 100,000
 * files then holds one object and one set of strings per file instead of two.
 */
function sharedSeen(slot: Slot, seen: Seen): Seen {
  const same = seenOfEntry(slot.entry);
  return same !== null && sameSeen(same, seen) ? same : seen;
}
