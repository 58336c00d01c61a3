/**
 * Renaming, re-noting, pinning and unpinning a snapshot or save, through the store (`Store.updateLabels`:
 * only those fields change, atomically).
 */
import { storeOf, type StoreRef } from '../store/local-store.js';
import type { LabelChange } from '../store/labels.js';
import type { RecordMeta } from '../store/types.js';

export type { LabelChange };

/**
 * Applies `change` to the record `idOrPrefix`; returns the record as it now is. The caller holds
 * the lock; `signal` is that lock's (see `Store.updateLabels`).
 */
export async function updateLabels(store: StoreRef, idOrPrefix: string, change: LabelChange, signal?: AbortSignal): Promise<RecordMeta> {
  return storeOf(store).updateLabels(idOrPrefix, change, signal ? { signal } : {});
}
