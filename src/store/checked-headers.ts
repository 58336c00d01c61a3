/**
 * Snapshot headers already read and checked by this process, kept by the identity of the
 * `snapshot.json` they came from, so that listing a store does not read and check every manifest
 * again. Retention lists the store's headers after every backup: with four snapshots of 100,000
 * files that was 0.8-1.2 s of this thread's CPU each time (a 29 MB manifest checked entry by
 * entry), growing with `keep` and the file count; a snapshot's manifest never changes once
 * committed.
 *
 * The identity is what the kernel keeps of the file: device, inode, size, mtime and ctime (ns).
 * Every change of `snapshot.json` changes its ctime, which no one can set back: a label edit
 * replaces the file (a new inode, a new ctime), a write in place moves the ctime. Only a file
 * whose ctime is at least `SETTLED_MS` old is kept (git's "racily clean" rule): on a file system
 * with coarse timestamps, two versions written within one tick could otherwise share an identity.
 * A file is also kept only when its identity was the same before and after the read, so what is
 * kept is what that identity names.
 *
 * Bounded: at most `MAX_KEPT` headers, and `MAX_KEPT_CHARS` of them as JSON in all (a header is
 * ~1-2 KB, but an incomplete snapshot's `skipped` and `left_out` can name 100,000 files: 35 MB
 * alive); past either, the oldest kept are dropped. A header over `MAX_HEADER_CHARS` is never kept.
 */
import fsp from 'node:fs/promises';

/** A `snapshot.json` changed this recently is read again every time (see the file comment). */
export const SETTLED_MS = 2000;
/** Headers kept at most (one per snapshot; a store of 1,000 snapshots holds ~1-2 MB of them). */
export const MAX_KEPT = 4096;
/** A header longer than this as JSON is read again every time instead (see the file comment). */
export const MAX_HEADER_CHARS = 64 << 10;
/** The headers kept, as JSON, in all at most. */
export const MAX_KEPT_CHARS = 16 << 20;

/** A file's identity as the kernel keeps it, and when it last changed (its ctime, ms since the epoch). */
export interface FileIdentity {
  key: string;
  changedMs: number;
}

/** The identity of `file` (following symlinks, as a read does), or null when it cannot be stat'ed. */
export async function identityOf(file: string): Promise<FileIdentity | null> {
  const st = await fsp.stat(file, { bigint: true }).catch(() => null);
  return st === null ? null : { key: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, changedMs: Number(st.ctimeMs) };
}

/**
 * Checked values by file, each with the identity of the file it was read from (see the file
 * comment). `get` and `set` hand out and keep copies: a caller may change what it was given.
 */
export class CheckedHeaders<T> {
  private readonly kept = new Map<string, { key: string; value: T; chars: number }>();
  private chars = 0;

  /** What was read from `file` when it had identity `id`, or undefined. */
  get(file: string, id: FileIdentity): T | undefined {
    const hit = this.kept.get(file);
    if (hit === undefined) return undefined;
    if (hit.key !== id.key) {
      this.drop(file);
      return undefined;
    }
    return structuredClone(hit.value);
  }

  /**
   * Keeps `value`, read from `file` between two stats that both gave `id`, when that version is
   * settled at `now` (ms since the epoch; see the file comment).
   */
  set(file: string, id: FileIdentity, value: T, now: number): void {
    if (now - id.changedMs < SETTLED_MS) return;
    this.drop(file);
    const chars = JSON.stringify(value).length;
    if (chars > MAX_HEADER_CHARS) return;
    while (this.kept.size > 0 && (this.kept.size >= MAX_KEPT || this.chars + chars > MAX_KEPT_CHARS)) this.drop(this.kept.keys().next().value!);
    this.kept.set(file, { key: id.key, value: structuredClone(value), chars });
    this.chars += chars;
  }

  private drop(file: string): void {
    const hit = this.kept.get(file);
    if (hit === undefined) return;
    this.kept.delete(file);
    this.chars -= hit.chars;
  }

  /** Forgets every file under `dir` but those of `present` (a listing of `dir` no longer holds them). */
  keepOnlyUnder(dir: string, present: Set<string>): void {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const file of [...this.kept.keys()]) if (file.startsWith(prefix) && !present.has(file)) this.drop(file);
  }

  /** How many are kept. */
  get size(): number {
    return this.kept.size;
  }
}
