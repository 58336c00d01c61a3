/**
 * Renaming, re-noting, pinning and unpinning a snapshot or save: its `snapshot.json` (or save record)
 * is rewritten atomically with only those fields changed; every other field stays byte for byte.
 */
import fsp from 'node:fs/promises';
import { writeFileAtomic } from '../store/durable.js';
import { saveRecordFile, snapshotMetaFile } from '../store/layout.js';
import { resolveId } from '../store/read-store.js';
import type { RecordMeta } from '../store/types.js';

export interface LabelChange {
  name?: string | null;
  notes?: string | null;
  pinned?: boolean;
}

/** Applies `change` to the record `idOrPrefix`; returns the record as it now is. The caller holds the lock. */
export async function updateLabels(store: string, idOrPrefix: string, change: LabelChange): Promise<RecordMeta> {
  const meta = await resolveId(store, idOrPrefix);
  const file = meta.kind === 'save' ? saveRecordFile(store, meta.id) : snapshotMetaFile(store, meta.id);
  const raw = JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
  if (raw.id !== meta.id) throw new Error(`${file} does not describe ${meta.id}; not changing it`);
  if (change.name !== undefined) raw.name = change.name;
  if (change.notes !== undefined) raw.notes = change.notes;
  if (change.pinned !== undefined) raw.pinned = change.pinned;
  const mode = (await fsp.stat(file)).mode & 0o777;
  await writeFileAtomic(file, `${JSON.stringify(raw, null, 2)}\n`, { mode });
  return resolveId(store, meta.id);
}
