/**
 * The watcher edge: tells the shell that something under a run folder moved. It carries no file
 * contents and makes no decisions; the settle logic re-scans the folder to learn what changed.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isInside } from '../util/paths.js';
import { watchFolders } from './folder-watch.js';

export interface Watcher {
  close(): Promise<void>;
  /**
   * Catches up on events inotify dropped (see `FolderWatch.resync`): folders made meanwhile are
   * watched and reported with `onActivity`. Call it from the periodic rescan. Polling needs none.
   */
  resync(): void;
}

export interface WatchOptions {
  /** Absolute folders whose contents are ckptd's own writes (store, save.to): never reported. */
  ignoreDirs: string[];
  /**
   * Called with the absolute path of every added, changed or removed file or folder; `isDir` is
   * true when it is known to be a folder.
   */
  onActivity: (absPath: string, isDir?: boolean) => void;
  onError: (err: Error) => void;
  /**
   * Called once the first walk of the tree is done (every folder watched). Writes that land during
   * that walk may not be reported as events, so the caller rescans here.
   */
  onReady: () => void;
  /** Poll instead of inotify (`watch: poll`, or when the inotify watch limit is reached). */
  usePolling?: boolean;
}

/**
 * True for the errors that mean inotify cannot watch more (the per-user watch or instance limit,
 * or no file descriptors left): the run must be polled instead of going blind.
 */
export function isWatchLimitError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EMFILE' || /file watchers|inotify/i.test(err.message);
}

/** The advice logged when the inotify limit is hit. */
export const WATCH_LIMIT_ADVICE =
  'the inotify watch limit is reached; raise it with `sudo sysctl fs.inotify.max_user_watches=524288` ' +
  "(and `echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/60-ckptd.conf` to keep it); polling this run's folder meanwhile";

/** What `ckptd status` says of a run polled because the inotify watch limit was reached. */
export const WATCH_LIMIT_NOTE =
  'the inotify watch limit was reached, so this run is polled (changes are seen every few seconds, at more CPU) until the daemon restarts; ' +
  'raise it with `sudo sysctl fs.inotify.max_user_watches=524288`';

/** How often the watched folder itself is checked while it is missing (in case its parent cannot be watched). */
const ROOT_MISSING_CHECK_MS = 1000;
/**
 * How often it is checked while watched: its deletion, move or replacement is reported by inotify
 * on its parent at once, so this only backstops what that cannot see (a parent folder renamed or
 * unwatchable) and polling.
 */
const ROOT_CHECK_MS = 10_000;

/** One watch of the tree under the run folder, by either mechanism. */
interface TreeWatch {
  close(): Promise<void>;
  resync(): void;
}

/**
 * Watches `dir` recursively: with inotify, one watch per folder (see `folder-watch.ts`); with
 * `usePolling`, chokidar's stat polling, which needs no inotify watches at all. `dir` must exist
 * when called. A watch is tied to the folder's inode: when `dir` is deleted (or replaced, e.g.
 * `rm -rf dir && mkdir dir`) the old watch goes silent for good, so the folder itself is checked
 * (when inotify reports it gone, and on a timer): once it is gone `onActivity(dir)` is reported,
 * and once a folder is there again it is watched afresh, reported with `onActivity(dir)`, then
 * `onReady` when that watch is ready. Holds one open descriptor of the watched folder until `close`.
 */
export function watchRun(dir: string, opts: WatchOptions): Watcher {
  const root = path.resolve(dir);
  const ignored = opts.ignoreDirs.map((d) => path.resolve(d));
  const isIgnored = (p: string): boolean => ignored.some((d) => isInside(p, d));
  let current: TreeWatch | null = null;
  let watchedIno: bigint | null = null;
  // An open descriptor of the watched folder: while it is open, that inode cannot be freed and
  // handed to a new folder at the same path, so a different inode number there means a new folder.
  let held: number | null = null;
  const release = (): void => {
    if (held !== null) fs.closeSync(held);
    held = null;
  };
  let closed = false;
  let checking = false;
  let pendingDeleted = false;
  let timer: NodeJS.Timeout | null = null;
  let parentWatch: fs.FSWatcher | null = null;

  // The run folder's own deletion reaches its own watch only once nothing holds it open (and the
  // descriptor above does), so its parent is watched for entries of that name: deleted, moved,
  // made again. Where the parent cannot be watched, the timer below still finds out.
  const watchParent = (): void => {
    parentWatch?.close();
    parentWatch = null;
    if (opts.usePolling) return;
    try {
      const w = fs.watch(path.dirname(root), { persistent: false }, (_event, name) => {
        if (name !== null && name.toString() === path.basename(root)) void checkRoot();
      });
      w.on('error', () => {
        w.close();
        if (parentWatch === w) parentWatch = null;
      });
      parentWatch = w;
    } catch {
      // Unwatchable parent (gone, no permission, the watch limit): the timer backstops it.
    }
  };

  const start = (): void => {
    release();
    watchParent();
    try {
      held = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      watchedIno = fs.fstatSync(held, { bigint: true }).ino;
    } catch {
      // Unreadable or gone already: the scan reports that; the check below retries.
      watchedIno = null;
    }
    let tree: TreeWatch;
    const ready = (): void => {
      if (current === tree) opts.onReady();
    };
    if (opts.usePolling) {
      tree = pollTree(root, isIgnored, opts, ready, () => void checkRoot(true));
    } else {
      const w = watchFolders(root, {
        isIgnored,
        onActivity: opts.onActivity,
        onError: opts.onError,
        onReady: ready,
        onRootGone: () => void checkRoot(),
      });
      tree = { close: async () => w.close(), resync: () => w.resync() };
    }
    current = tree;
  };

  const checkRoot = async (deleted = false): Promise<void> => {
    if (closed) return;
    if (checking) {
      pendingDeleted ||= deleted;
      return;
    }
    checking = true;
    try {
      const ino = await folderIno(root);
      if (ino === watchedIno && !deleted && !pendingDeleted) return;
      pendingDeleted = false;
      const old = current;
      current = null;
      await old?.close();
      if (closed) return;
      if (ino === null) {
        release();
        watchedIno = null;
      } else start();
      opts.onActivity(root);
    } catch (err) {
      opts.onError(err as Error);
    } finally {
      checking = false;
      arm();
    }
  };

  const arm = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void checkRoot(), current === null ? ROOT_MISSING_CHECK_MS : ROOT_CHECK_MS);
    timer.unref();
  };

  start();
  arm();
  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      parentWatch?.close();
      const w = current;
      current = null;
      await w?.close();
      release();
    },
    resync: () => current?.resync(),
  };
}

/** chokidar's polling watch of `root` (stat of every file every few seconds; no inotify). */
function pollTree(root: string, isIgnored: (p: string) => boolean, opts: WatchOptions, ready: () => void, rootGone: () => void): TreeWatch {
  const w: FSWatcher = watch(root, {
    ignoreInitial: true,
    followSymlinks: false,
    ignored: isIgnored,
    usePolling: true,
    interval: 2000,
    binaryInterval: 5000,
  });
  w.on('all', (event, p) => {
    // The watched folder itself was deleted: whatever is at `root` now (even a new folder that
    // got the same inode number back) is not what this watch follows.
    if (event === 'unlinkDir' && path.resolve(p) === root) rootGone();
    opts.onActivity(p, event === 'addDir' || event === 'unlinkDir');
  });
  w.on('ready', ready);
  w.on('error', (err) => opts.onError(err instanceof Error ? err : new Error(String(err))));
  return { close: () => w.close(), resync: () => undefined };
}

/** The inode of `dir` when it is a folder; null when it is missing or not a folder. */
async function folderIno(dir: string): Promise<bigint | null> {
  try {
    const st = await fsp.stat(dir, { bigint: true });
    return st.isDirectory() ? st.ino : null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}
