/**
 * The local store (SPEC section 5) behind the `Store` interface: an adapter over the functions
 * that read and write the folder layout (`read-store`, `write-snapshot`, `write-save`,
 * `delete-snapshot`, `labels`, `verify-snapshot`, `damaged-marker`, `lock`, `footprint`,
 * `store-signature`). No behaviour of its own beyond choosing which of them to call.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { recordVerification } from './damaged-marker.js';
import { deleteSave, deleteSnapshot, sweepStore } from './delete-snapshot.js';
import { storedUnits } from './footprint.js';
import { isValidId } from './ids.js';
import { importSnapshot } from './import-snapshot.js';
import { lastKnownInStore } from './last-known.js';
import { writeLabels } from './labels.js';
import { ensureStore, saveRecordFile, snapshotDir } from './layout.js';
import { acquireStoreLock, readLockHolder } from './lock.js';
import { supportsReflink } from './reflink.js';
import { findBroken, listSaves, listSnapshotHeaders, listSnapshots, newestGoodHeader, newestGoodSnapshot, resolveId, resolveIdHeader } from './read-store.js';
import type { CommitSaveOptions, RemoveOptions, RemoveResult, StageSnapshotOptions, Store, StoreRecord } from './store.js';
import { localSignature, watchLocalActivity } from './store-signature.js';
import { copyStoredFile, openStoredFile, readStoredLink } from './stored-file.js';
import { verifySave, verifySnapshot } from './verify-snapshot.js';
import { statfsNear } from '../util/fs.js';
import { writeSave } from './write-save.js';
import { stageSnapshot } from './write-snapshot.js';

/** A store, or the folder of a local one (as the config names it). */
export type StoreRef = Store | string;

/** The local store in folder `dir` (nothing is touched until a method is called). */
export function localStore(dir: string): Store {
  const root = path.resolve(dir);
  return {
    location: root,
    listSnapshots: () => listSnapshots(root),
    listSnapshotHeaders: () => listSnapshotHeaders(root),
    listSaves: () => listSaves(root),
    findBroken: () => findBroken(root),
    newestGood: (opts) => newestGoodSnapshot(root, opts?.like),
    newestGoodHeader: () => newestGoodHeader(root),
    lastKnown: (paths) => lastKnownInStore(root, paths),
    resolve: (idOrPrefix) => resolveId(root, idOrPrefix),
    openFile: (record, relPath) => openStoredFile(root, record, relPath),
    copyFileOut: (record, relPath, dest, opts) => copyStoredFile(root, record, relPath, dest, opts),
    readLink: (record, relPath) => readStoredLink(root, record, relPath),
    stageSnapshot: (opts: StageSnapshotOptions) => stageSnapshot({ ...opts, store: root }),
    importSnapshot: (from, record, opts) => importSnapshot(root, from, record, opts),
    commitSave: (opts: CommitSaveOptions) => writeSave({ ...opts, store: root }),
    async updateLabels(idOrPrefix, change, opts) {
      const meta = await resolveIdHeader(root, idOrPrefix);
      await writeLabels(root, meta.id, meta.kind, change, opts?.signal);
      return resolveId(root, meta.id);
    },
    remove: (id, opts) => removeRecord(root, id, opts ?? {}),
    storedUnits: (record) => storedUnits(record),
    verify: (record: StoreRecord, onBytes) => (record.kind === 'save' ? verifySave(root, record, onBytes) : verifySnapshot(root, record, onBytes)),
    markVerified: (result, now) => recordVerification(root, result, now),
    ensure: () => ensureStore(root),
    freeBytes: async () => {
      const st = await statfsNear(root);
      return st.bavail * st.bsize;
    },
    // btrfs and others that allocate inodes as they go report no count (files 0).
    freeInodes: async () => {
      const st = await statfsNear(root);
      return st.files > 0 ? st.ffree : Infinity;
    },
    sharesCopyOnWrite: () => supportsReflink(root),
    lockHolder: () => readLockHolder(root),
    lock: (info, onCompromised) => acquireStoreLock(root, info, onCompromised),
    sweep: (saveDirs) => sweepStore(root, saveDirs ?? []),
    signature: () => localSignature(root),
    watchActivity: (onActivity) => watchLocalActivity(root, onActivity),
  };
}

/** `ref` as a store: a string is the folder of a local store. */
export function storeOf(ref: StoreRef): Store {
  return typeof ref === 'string' ? localStore(ref) : ref;
}

async function removeRecord(root: string, id: string, opts: RemoveOptions): Promise<RemoveResult> {
  if (!isValidId(id)) throw new Error(`refusing to delete ${JSON.stringify(id)}: not a valid id`);
  const signal = opts.signal !== undefined ? { signal: opts.signal } : {};
  const exists = (p: string): Promise<boolean> => fsp.lstat(p).then(() => true, () => false);
  // A kind named: straight to that kind's delete, which throws when there is no such record.
  if (opts.kind === 'snapshot' || (opts.kind === undefined && (await exists(snapshotDir(root, id))))) {
    await deleteSnapshot(root, id, opts.guard, signal);
    return { removed: [snapshotDir(root, id)], kept: [] };
  }
  if (opts.kind === 'save' || (opts.kind === undefined && (await exists(saveRecordFile(root, id))))) {
    return deleteSave(root, id, { saveTo: opts.saveTo ?? null, ...(opts.guard ? { guard: opts.guard } : {}), ...signal });
  }
  throw new Error(`no snapshot or save ${id} in ${root}`);
}
