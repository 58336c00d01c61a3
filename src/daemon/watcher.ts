/**
 * The watcher edge: tells the shell that something under a run folder moved. It carries no file
 * contents and makes no decisions; the settle logic re-scans the folder to learn what changed.
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface Watcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  /** Absolute folders whose contents are ckptd's own writes (store, save.to): never reported. */
  ignoreDirs: string[];
  /** Called with the absolute path of every added, changed or removed file or folder. */
  onActivity: (absPath: string) => void;
  onError: (err: Error) => void;
  /**
   * Called once chokidar has finished its first walk. Writes that land during that walk are not
   * reported as events (they look like initial files), so the caller rescans here.
   */
  onReady: () => void;
  /** Poll instead of inotify (when the inotify watch limit is reached). */
  usePolling?: boolean;
}

/** Watches `dir` recursively with chokidar (the folder may not exist yet; it is picked up when created). */
export function watchRun(dir: string, opts: WatchOptions): Watcher {
  const ignored = opts.ignoreDirs.map((d) => path.resolve(d));
  const isIgnored = (p: string): boolean =>
    ignored.some((d) => p === d || p.startsWith(d + path.sep));
  const w: FSWatcher = watch(dir, {
    ignoreInitial: true,
    followSymlinks: false,
    ignored: isIgnored,
    usePolling: opts.usePolling ?? false,
    interval: 2000,
    binaryInterval: 5000,
  });
  w.on('all', (_event, p) => opts.onActivity(p));
  w.on('ready', () => opts.onReady());
  w.on('error', (err) => opts.onError(err instanceof Error ? err : new Error(String(err))));
  return { close: () => w.close() };
}
