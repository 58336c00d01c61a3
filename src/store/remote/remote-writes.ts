/**
 * Changing what a remote run holds, beyond adding records: labels (the manifest rewritten by one
 * PUT, which readers see whole or not at all), removal (the manifest, then its marker; blobs wait
 * for `collectGarbage`), verification markers, and the sweep of what interrupted work left.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { DamagedMarker, MarkerChange } from '../damaged-marker.js';
import { removeTree } from '../durable.js';
import { isValidId } from '../ids.js';
import type { LabelChange } from '../labels.js';
import { assertLockHeld, signalOfHeldLock } from '../lock-signal.js';
import type { RemoveOptions, RemoveResult, StoreRecord } from '../store.js';
import type { VerifyResult } from '../verify-snapshot.js';
import { assertOwnFolder } from '../safe-dir.js';
import { keyOfRecord, markerKey, readRemoteSave, readRemoteSnapshot, recordKey, usedIds, type RemoteRun } from './remote-records.js';
import { SCRATCH_STAGE_PREFIX } from './remote-stage.js';
import { objectUrl, parseRecordKey, runDamagedPrefix } from './s3-target.js';

/**
 * `Store.updateLabels` for the already resolved `record`: its manifest with the labels changed,
 * every other field as stored, written only while the lease (`signal`, default the one this
 * process holds on the run) is held.
 */
export async function relabelRemote(r: RemoteRun, record: StoreRecord, change: LabelChange, signal?: AbortSignal): Promise<void> {
  const held = signal ?? signalOfHeldLock(r.location);
  const key = keyOfRecord(r, record);
  const raw = (await r.objects.getJson(key)) as Record<string, unknown> | undefined;
  if (raw === undefined) throw new Error(`${record.kind} ${record.id} is gone from ${r.location}; nothing relabelled`);
  if (raw.id !== record.id) throw new Error(`${objectUrl(r.objects.target, key)} does not describe ${record.id}; not changing it`);
  if (change.name !== undefined) raw.name = change.name;
  if (change.notes !== undefined) raw.notes = change.notes;
  if (change.pinned !== undefined) raw.pinned = change.pinned;
  assertLockHeld(held);
  await r.objects.putJson(key, raw);
}

/**
 * `Store.remove` of a remote run: the record `id` (of `opts.kind` when given) read afresh, the
 * guard asked, the lock checked, then its manifest deleted and its marker after it. Its blobs stay
 * until `collectGarbage` finds no manifest naming them. Nothing is ever `kept`.
 */
export async function removeRemote(r: RemoteRun, id: string, opts: RemoveOptions): Promise<RemoveResult> {
  if (!isValidId(id)) throw new Error(`refusing to delete ${JSON.stringify(id)}: not a valid id`);
  const signal = opts.signal ?? signalOfHeldLock(r.location);
  const found = await findRecord(r, id, opts.kind);
  if (found === null) throw new Error(`no ${opts.kind ?? 'snapshot or save'} ${id} in ${r.location}`);
  const kind = found.kind === 'save' ? 'save' : 'snapshot';
  const reason = opts.guard?.(found) ?? null;
  if (reason !== null) throw new Error(`refusing to delete ${kind} ${id}: ${reason}`);
  assertLockHeld(signal);
  const key = recordKey(r, kind, id);
  await r.objects.deleteKey(key);
  await r.objects.deleteKey(markerKey(r, id));
  return { removed: [objectUrl(r.objects.target, key)], kept: [] };
}

/** The valid record `id` of `kind` (either kind when undefined, a snapshot first), or null. */
async function findRecord(r: RemoteRun, id: string, kind: 'snapshot' | 'save' | undefined): Promise<StoreRecord | null> {
  for (const k of kind === undefined ? (['snapshot', 'save'] as const) : [kind]) {
    const read = k === 'save' ? await readRemoteSave(r, id) : await readRemoteSnapshot(r, id);
    if ('problem' in read) throw new Error(`${k} ${id} in ${r.location} is not a valid record (${read.problem}); not removing it`);
    if ('meta' in read) return read.meta;
  }
  return null;
}

/**
 * `Store.markVerified` of a remote run: a failed verification writes the marker (keeping `found`
 * from an earlier one), a clean one deletes it. `record-gone` (nothing written) when the record's
 * manifest is no longer there.
 */
export async function markRemoteVerified(r: RemoteRun, result: VerifyResult, now: number): Promise<MarkerChange> {
  if (!isValidId(result.id)) throw new Error(`refusing to mark ${JSON.stringify(result.id)}: not a valid id`);
  const key = markerKey(r, result.id);
  const earlier = (await r.objects.getJson(key)) as Partial<DamagedMarker> | undefined;
  if (result.ok) {
    if (earlier === undefined) return 'unchanged';
    await r.objects.deleteKey(key);
    return 'cleared';
  }
  const record = await r.objects.getJson(keyOfRecord(r, result));
  if (record === undefined) return 'record-gone';
  const checked = new Date(now).toISOString();
  const marker: DamagedMarker = {
    id: result.id,
    found: typeof earlier?.found === 'string' ? earlier.found : checked,
    checked,
    missing: result.missing,
    changed: result.changed,
    extra: result.extra,
  };
  await r.objects.putJson(key, marker);
  return earlier !== undefined ? 'still-damaged' : 'marked';
}

/** What `sweepRemote` is told. */
export interface RemoteSweepOptions {
  scratchDir: string;
  /** Multipart uploads started longer ago than this are abandoned and aborted. */
  uploadGraceMs: number;
  now: number;
}

/**
 * `Store.sweep` of a remote run: removes the `stage-*` folders of the scratch folder (staging of
 * interrupted captures; anything else there stays; a scratch folder that is a symlink is refused,
 * nothing removed), aborts blob multipart uploads older than the grace
 * (a push that still holds its resume state starts that blob over), and deletes markers whose
 * record is gone. Returns what it removed.
 */
export async function sweepRemote(r: RemoteRun, opts: RemoteSweepOptions): Promise<{ removed: string[]; completed: string[] }> {
  const removed: string[] = [];
  await assertOwnFolder(opts.scratchDir);
  for (const name of await fsp.readdir(opts.scratchDir).catch(() => [] as string[])) {
    const p = path.join(opts.scratchDir, name);
    // Captures make `stage-*` folders here: a file, a symlink or another name is not ckptd's to remove.
    if (!name.startsWith(SCRATCH_STAGE_PREFIX) || !(await fsp.lstat(p).catch(() => null))?.isDirectory()) continue;
    await removeTree(p);
    removed.push(p);
  }
  for (const u of await r.objects.abortStaleUploads(opts.uploadGraceMs, opts.now)) removed.push(`${objectUrl(r.objects.target, u.key)} (upload ${u.uploadId})`);
  const t = r.objects.target;
  const records = new Set(await usedIds(r));
  for (const key of await r.objects.listKeys(runDamagedPrefix(t, r.run))) {
    const parsed = parseRecordKey(t, key);
    if (parsed === null || parsed.kind !== 'damaged' || records.has(parsed.id)) continue;
    await r.objects.deleteKey(key);
    removed.push(objectUrl(t, key));
  }
  return { removed, completed: [] };
}
