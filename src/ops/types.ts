/**
 * Store operations a person asks for (`delete`, `restore`, `rename`, `note`, `pin`, `unpin`). Each is
 * plain JSON, so the CLI can run it itself (holding the store lock) or hand it to the daemon that
 * holds the store; either way the same `executeOp` does the work, one operation at a time.
 */

export type StoreOp =
  | { kind: 'label'; id: string; name?: string | null; notes?: string | null; pinned?: boolean }
  | { kind: 'delete'; ids: string[]; force: boolean; remote?: boolean }
  /** `target`: the run folder the person confirmed; refused when the run's folder is another (the config was edited since). */
  | { kind: 'restore'; id: string; force: boolean; to: string | null; remote?: boolean; target?: string }
  | { kind: 'prune' }
  /** Queue (all of a pushed kind, or `ids`) and send the push queue now (SPEC section 8). */
  | { kind: 'push'; ids: string[] }
  /** Copy remote snapshot `id` into the local store, verified. */
  | { kind: 'pull'; id: string };

/** What an operation did, for people (`message`) and for `--json` (`data`). */
export interface OpOutcome {
  message: string;
  data: Record<string, unknown>;
}
