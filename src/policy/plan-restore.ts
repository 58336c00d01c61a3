/**
 * What a restore must do to make a run's state equal a snapshot: pure, from the scanned state and the
 * snapshot's manifest. Files whose metadata already match (the mtime to the microsecond, as precise
 * as a restore can set it) are only hashed to confirm (reading is cheaper than writing); everything
 * else is written fresh; files the snapshot lacks are removed, but for those it left out (an
 * incomplete snapshot holds no version of them): they are kept.
 */
import { sameMicrosecond } from './same-microsecond.js';

/** A file of the run as scanned now. */
export interface CurrentFile {
  path: string;
  type: 'file' | 'symlink';
  size: number;
  mtimeNs: string;
  mode: number;
  target?: string;
}

/** A file of the snapshot's manifest. */
export interface TargetFile {
  path: string;
  size: number;
  sha256: string;
  mode: number;
  mtime_ns: string;
  type?: 'symlink';
  target?: string;
}

export interface RestorePlan {
  /** Absent from the run, or different in type, size, mtime, mode or link target: written fresh. */
  write: TargetFile[];
  /** Same metadata as in the snapshot: hashed, and written only when the bytes differ. */
  confirm: TargetFile[];
  /** In the run's state but not in the snapshot: removed (the pre-restore snapshot keeps them). */
  remove: CurrentFile[];
  /**
   * In the run's state, and left out of the snapshot (its `skipped`): kept as they are. The snapshot
   * holds no version of them, and a file that never settles is left out of the pre-restore one too.
   */
  keep: CurrentFile[];
}

export function planRestore(current: readonly CurrentFile[], target: readonly TargetFile[], leftOut: readonly { path: string }[] = []): RestorePlan {
  const now = new Map(current.map((c) => [c.path, c]));
  const wanted = new Set(target.map((t) => t.path));
  const unknown = new Set(leftOut.map((s) => s.path));
  const plan: RestorePlan = { write: [], confirm: [], remove: [], keep: [] };
  for (const t of target) {
    const c = now.get(t.path);
    const type = t.type ?? 'file';
    const same =
      c !== undefined &&
      c.type === type &&
      (type === 'symlink' ? c.target === t.target : c.size === t.size && sameMicrosecond(c.mtimeNs, t.mtime_ns) && c.mode === t.mode);
    if (!same) plan.write.push(t);
    else if (type === 'file') plan.confirm.push(t);
  }
  for (const c of current) if (!wanted.has(c.path)) (unknown.has(c.path) ? plan.keep : plan.remove).push(c);
  return plan;
}
