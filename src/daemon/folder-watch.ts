/**
 * An inotify watch of a folder tree that costs one watch per folder, not one per file.
 *
 * inotify on a folder reports what happens to the files in it (created, written, closed, renamed,
 * deleted), so a watch per folder sees every write a trainer makes. chokidar, by contrast, adds a
 * watch per file on top: a run of 100,000 files cost 100,106 watches, 1 GB of memory and 9 s of
 * CPU to start (docs/BENCHMARKS.md), and two such runs exhaust a default `max_user_watches`.
 * This module uses Node's `fs.watch` (one inotify watch) on each folder; Node's own recursive
 * mode cannot be used, as it watches every file too.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isInside } from '../util/paths.js';

export interface FolderWatchOptions {
  /** Paths under which nothing is watched or reported (ckptd's own writes). */
  isIgnored: (absPath: string) => boolean;
  /**
   * Every created, written, renamed or removed file or folder, by absolute path; `isDir` is true
   * when it is known to be a folder (reported once its watch is in place).
   */
  onActivity: (absPath: string, isDir?: boolean) => void;
  /**
   * Watching failed: a folder could not be watched (e.g. the inotify limit, `ENOSPC`/`EMFILE`).
   * The tree keeps what it has; the caller decides whether to fall back to polling. Called once
   * per error code (`EACCES` on one folder does not hide a later `ENOSPC`).
   */
  onError: (err: Error) => void;
  /** The whole tree as it was at the start is watched. Called once. */
  onReady: () => void;
  /** The root folder itself was reported deleted or moved (its own inotify event). */
  onRootGone: () => void;
}

export interface FolderWatch {
  close(): void;
  /**
   * Brings the watches in line with the tree on disk, for what inotify could not report: when its
   * queue overflows under a burst of writes, the rest of the burst is dropped (libuv drops the
   * overflow notice too), a folder made then would never be watched. Folders no longer there (or
   * no longer the folder watched under that name) stop being watched; folders not watched yet are
   * watched, then reported with `onActivity`. Runs after the entry events already queued.
   */
  resync(): void;
  /** How many folders are watched now (one inotify watch each). */
  readonly size: number;
}

/**
 * Watches `root` and every folder under it (symlinks are not followed; ignored paths are skipped).
 * A folder created later is watched as soon as its creation is reported, and reported once more
 * after its watch is in place, so files written into it in between are not missed by a caller
 * that rescans on activity. A folder that is removed or renamed away stops being watched.
 */
export function watchFolders(root: string, opts: FolderWatchOptions): FolderWatch {
  const watches = new Map<string, fs.FSWatcher>();
  /** The inode each watched folder had when its watch began (a watch follows its inode, not its name). */
  const inos = new Map<string, number>();
  // Entry events are handled one after another, so two about one folder never interleave.
  let settling: Promise<void> = Promise.resolve();
  const rootName = path.basename(root);
  let closed = false;
  /** The error codes reported already. */
  const reported = new Set<string>();

  const fail = (err: Error): void => {
    // One report per tree and kind: a limit hit for one folder is usually hit for the next ones
    // too; but an unwatchable folder (EACCES) must not hide the limit, which calls for polling.
    const kind = (err as NodeJS.ErrnoException).code ?? err.message;
    if (reported.has(kind) || closed) return;
    reported.add(kind);
    opts.onError(err);
  };

  /** Watches one folder; false when it cannot be (gone, or a limit). */
  const watchOne = (dir: string): boolean => {
    if (watches.has(dir)) return true;
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, { persistent: true }, (event, name) => onEvent(dir, event, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') fail(err as Error);
      return false;
    }
    // Errors of a live watch (the folder went away under it) end that watch only; the parent's
    // event about the removal is what the caller acts on.
    w.on('error', () => unwatchUnder(dir));
    watches.set(dir, w);
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st) inos.set(dir, st.ino);
    return true;
  };

  /**
   * Watches `top` and the folders under it, breadth first; watch before read, so nothing created in
   * between is missed. `onNew` gets each folder that was not watched before.
   */
  const addTree = async (top: string, onNew?: (dir: string) => void): Promise<void> => {
    const queue = [top];
    while (queue.length > 0 && !closed) {
      const dir = queue.shift()!;
      if (opts.isIgnored(dir)) continue;
      const known = watches.has(dir);
      if (!watchOne(dir)) continue;
      if (!known) onNew?.(dir);
      const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const sub = path.join(dir, e.name);
        if (!opts.isIgnored(sub)) queue.push(sub);
      }
    }
  };

  const unwatchUnder = (top: string): void => {
    // A folder is watched before anything under it, so an unwatched `top` has nothing watched below.
    if (!watches.has(top)) return;
    for (const [dir, w] of watches) {
      if (isInside(dir, top)) {
        w.close();
        watches.delete(dir);
        inos.delete(dir);
      }
    }
  };

  /** An entry of a watched folder appeared, went or was renamed: follow folders in and out. */
  const settleEntry = async (abs: string): Promise<void> => {
    const st = await fsp.lstat(abs).catch(() => null);
    if (closed) return;
    if (st?.isDirectory()) {
      if (opts.isIgnored(abs)) return;
      // A folder that appeared, or one removed and made again under a watched name (`rm -rf ckpt
      // && mkdir ckpt`; the new one may even get the old inode number back): the old watch died
      // with the old folder, so the name is watched afresh, with everything below it.
      unwatchUnder(abs);
      await addTree(abs);
      if (!closed) opts.onActivity(abs, true);
    } else {
      unwatchUnder(abs);
    }
  };

  const onEvent = (dir: string, event: string, name: string | Buffer | null): void => {
    if (closed || !watches.has(dir)) return;
    if (name === null) {
      opts.onActivity(dir);
      return;
    }
    const abs = path.join(dir, name.toString());
    // inotify reports the watched folder's own deletion or move as a rename of its own name; a
    // child with the same name looks the same, so the caller checks which it was.
    if (dir === root && event === 'rename' && name.toString() === rootName) opts.onRootGone();
    if (opts.isIgnored(abs)) return;
    opts.onActivity(abs);
    if (event === 'rename') settling = settling.then(() => settleEntry(abs)).catch((err: unknown) => fail(err as Error));
  };

  const resync = async (): Promise<void> => {
    for (const dir of [...watches.keys()]) {
      if (dir === root || closed) continue;
      const st = await fsp.lstat(dir).catch(() => null);
      if (!st?.isDirectory() || st.ino !== inos.get(dir)) unwatchUnder(dir);
    }
    await addTree(root, (dir) => {
      if (!closed) opts.onActivity(dir, true);
    });
  };

  void addTree(root).then(() => {
    if (!closed) opts.onReady();
  });

  return {
    close: () => {
      closed = true;
      for (const w of watches.values()) w.close();
      watches.clear();
    },
    resync: () => {
      settling = settling.then(resync).catch((err: unknown) => fail(err as Error));
    },
    get size() {
      return watches.size;
    },
  };
}
