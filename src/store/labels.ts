/**
 * Renaming, re-noting, pinning and unpinning a record of a local store: its `snapshot.json` (or save
 * record) is rewritten atomically with only those fields changed; every other field stays byte for
 * byte, and the file keeps its mode. A `snapshot.json` keeps its times; a save record written before
 * `writeSave` kept when its export was placed gains, at its first change, the ctime it was committed
 * with (`COMMITTED_CTIME_KEY`), which no reader shows.
 */
import type { BigIntStats } from 'node:fs';
import fsp from 'node:fs/promises';
import { writeFileAtomic } from './durable.js';
import { isValidId } from './ids.js';
import { editSnapshotJson } from './snapshot-json.js';
import { assertLockHeld, signalOfHeldLock } from './lock-signal.js';
import { saveRecordFile, snapshotMetaFile } from './layout.js';
import { COMMITTED_CTIME_KEY } from './record-shape.js';
import type { RecordKind } from './types.js';
import { utimesSeconds } from '../util/fs.js';

/** The labels a person may change; a field left undefined is kept. */
export interface LabelChange {
  name?: string | null;
  notes?: string | null;
  pinned?: boolean;
}

/**
 * Applies `change` to the record `id` of kind `kind` (a snapshot's `snapshot.json` or a save's
 * record). Throws when the file does not describe `id`. The caller holds the lock; `signal` is its
 * signal (default: the lock this process holds on `store`), checked right before the rename: once
 * that lock is lost it throws `LockLostError` and the record stays as it was.
 */
export async function writeLabels(store: string, id: string, kind: RecordKind, change: LabelChange, signal?: AbortSignal): Promise<void> {
  if (!isValidId(id)) throw new Error(`refusing to label ${JSON.stringify(id)}: not a valid id`);
  const file = kind === 'save' ? saveRecordFile(store, id) : snapshotMetaFile(store, id);
  await rewriteRecord(store, file, id, kind, signal, (raw, st) => {
    // The new record's ctime is now: the commit's, which `deleteSave` checks the exports against, is kept.
    if (kind === 'save' && raw[COMMITTED_CTIME_KEY] === undefined) raw[COMMITTED_CTIME_KEY] = st.ctimeNs.toString();
    if (change.name !== undefined) raw.name = change.name;
    if (change.notes !== undefined) raw.notes = change.notes;
    if (change.pinned !== undefined) raw.pinned = change.pinned;
  });
}

/**
 * Writes into the record of save `id` at `file` (committed, or still under its pending name) that
 * it was committed at `ctimeNs` (`COMMITTED_CTIME_KEY`), unless it says so already: for a record the
 * start-up sweep commits after a kill, whose own ctime is then the sweep's, not the save's. The
 * caller holds the store's lock (`signal`, as in `writeLabels`).
 */
export async function keepCommittedCtime(store: string, file: string, id: string, ctimeNs: bigint, signal?: AbortSignal): Promise<void> {
  await rewriteRecord(store, file, id, 'save', signal, (raw) => {
    if (raw[COMMITTED_CTIME_KEY] === undefined) raw[COMMITTED_CTIME_KEY] = ctimeNs.toString();
  });
}

/** Rewrites record `file` of `id` atomically through `edit` (see the file comment for what stays). */
async function rewriteRecord(
  store: string,
  file: string,
  id: string,
  kind: RecordKind,
  signal: AbortSignal | undefined,
  edit: (raw: Record<string, unknown>, st: BigIntStats) => void,
): Promise<void> {
  const held = signal ?? signalOfHeldLock(store);
  assertLockHeld(held);
  const st = await fsp.stat(file, { bigint: true });
  const mode = Number(st.mode & 0o777n);
  // A snapshot.json's times stay: its mtime says when its snapshot was sealed (see `linkOne`), to
  // the microsecond, never later. A save record's move, so the store's signature (its records'
  // mtimes) tells the change.
  const times = kind === 'save' ? {} : { times: { atime: utimesSeconds(st.atimeNs), mtime: utimesSeconds(st.mtimeNs) } };
  const checked = (raw: Record<string, unknown>): void => {
    if (raw.id !== id) throw new Error(`${file} does not describe ${id}; not changing it`);
    edit(raw, st);
  };
  // The manifest's entries are copied as bytes, never parsed: 29 MB of them for 100,000 files.
  await editSnapshotJson(file, checked, (pieces) => writeFileAtomic(file, pieces, { mode, ...times, beforeRename: () => assertLockHeld(held) }));
}
