/**
 * The handle of a staged snapshot (`StagedSnapshot`), whatever store staged it: commit once, or
 * abandon; a commit that fails discards what was staged. The store says how to publish and discard.
 */
import type { SnapshotMeta } from './types.js';
import type { StagedSnapshot } from './write-snapshot.js';

/** How a store makes its staged snapshot visible, and removes it. */
export interface StagedSteps {
  /** Checks the lock and makes the snapshot visible in one step; on a throw nothing is visible. */
  publish(): Promise<void>;
  /** What follows a publish that succeeded (durability, cleanup): the snapshot is visible already. */
  afterPublish(): Promise<void>;
  /** Removes what was staged; may throw (an explicit `abandon` reports it). */
  discard(): Promise<void>;
}

/**
 * The handle of snapshot `id` staged with `meta`: `commit` publishes it (throwing, once resolved,
 * on any further call; discarding what was staged when the publish fails), `abandon` discards it
 * (idempotent; a no-op once committed or committing).
 */
export function stagedHandle(id: string, meta: SnapshotMeta, steps: StagedSteps): StagedSnapshot {
  let state: 'staged' | 'committing' | 'committed' | 'abandoned' = 'staged';
  return {
    id,
    meta,
    async commit(): Promise<SnapshotMeta> {
      if (state !== 'staged') throw new Error(`snapshot ${id} is ${state}, it cannot be committed`);
      state = 'committing';
      try {
        await steps.publish();
      } catch (err) {
        state = 'abandoned';
        await steps.discard().catch(() => undefined);
        throw err;
      }
      state = 'committed';
      await steps.afterPublish();
      return meta;
    },
    async abandon(): Promise<void> {
      if (state === 'committed' || state === 'committing') return;
      state = 'abandoned';
      await steps.discard();
    },
  };
}
