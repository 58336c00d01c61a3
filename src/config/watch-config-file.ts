/**
 * Watching a config file for edits, for whoever applies it live (the daemon, the Version panel).
 *
 * Tools rarely edit a file in place: `sed -i` and many editors rename a new file over it, `ln -sfn`
 * swaps a link, a symlink's target can vanish and come back. So this watches *folders*, never the
 * file's inode: the config's folder and, when the config is a symbolic link, the folder of each link
 * on the way to its target (re-read after every change, so a repointed link is followed). A slow
 * stat poll of the path backs the folder watches up (a folder that was itself replaced, a file
 * system without inotify).
 */
import fs from 'node:fs';
import path from 'node:path';

/** The reason `watchConfigFile` gives for its first call, once the watch is set up. */
export const STARTUP_CHECK = 'start-up check';

/** An editor's save can be several writes and a rename: one re-read after they stop. */
const DEBOUNCE_MS = 300;

/** The backup poll: a stat of the config path this often (it follows symlinks). */
const POLL_MS = 2000;

/** Symbolic links followed at most, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

/**
 * Calls `onChange('the config file changed')` once a change of `file` (its content, its
 * replacement by rename, its deletion or reappearance, its symlink target's) has been quiet for
 * `DEBOUNCE_MS`, and `onChange(STARTUP_CHECK)` once the watch is set up (asynchronously, after
 * this returns). The caller re-reads the file and decides whether anything changed; a file it cannot
 * read is picked up again by a later call when it reappears or becomes readable. `onError` gets
 * errors of the watch itself (the poll keeps going). Returns the function that stops watching.
 */
export function watchConfigFile(file: string, onChange: (reason: string) => void, onError: (err: Error) => void): () => Promise<void> {
  const abs = path.resolve(file);
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let watchers = new Map<string, fs.FSWatcher>();
  let chain: Set<string> = new Set();
  const reported = new Set<string>();

  const report = (err: unknown, where: string): void => {
    const message = `${where}: ${(err as Error).message}`;
    // A folder that cannot be watched stays so; say it once, the poll covers it.
    if (reported.has(message)) return;
    reported.add(message);
    onError(new Error(`${message} (checking ${abs} every ${POLL_MS / 1000} s instead)`));
  };

  const changed = (): void => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (stopped) return;
      arm();
      onChange('the config file changed');
    }, DEBOUNCE_MS);
  };

  /** (Re)watches the folder of every path in the link chain; keeps the watches that still apply. */
  const arm = (): void => {
    chain = new Set(linkChain(abs));
    const folders = new Set([...chain].map((p) => path.dirname(p)));
    const next = new Map<string, fs.FSWatcher>();
    for (const [folder, w] of watchers) {
      if (folders.has(folder)) next.set(folder, w);
      else w.close();
    }
    for (const folder of folders) {
      if (next.has(folder)) continue;
      try {
        const w = fs.watch(folder, (_event, name) => {
          // No name (some platforms, an overflow): assume it was ours.
          if (name === null || chain.has(path.join(folder, name.toString()))) changed();
        });
        w.on('error', (err) => {
          // A watched folder that was removed ends its watch: re-arm at the next change.
          w.close();
          if (watchers.get(folder) === w) watchers.delete(folder);
          report(err, `cannot watch ${folder}`);
        });
        next.set(folder, w);
      } catch (err) {
        // A folder of the chain that does not exist (yet) is not an error: the poll sees it appear.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report(err, `cannot watch ${folder}`);
      }
    }
    watchers = next;
  };

  arm();
  fs.watchFile(abs, { interval: POLL_MS }, changed);
  setImmediate(() => {
    if (!stopped) onChange(STARTUP_CHECK);
  });

  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    fs.unwatchFile(abs, changed);
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

/**
 * `file` and, while it is a symbolic link, each path it points to, in order (relative targets
 * resolved against the link's folder). Ends at the first path that is not a link, does not exist,
 * or after `MAX_LINKS` links.
 */
export function linkChain(file: string): string[] {
  const chain = [file];
  let cur = file;
  for (let i = 0; i < MAX_LINKS; i++) {
    let target: string;
    try {
      target = fs.readlinkSync(cur);
    } catch {
      break;
    }
    cur = path.resolve(path.dirname(cur), target);
    if (chain.includes(cur)) break;
    chain.push(cur);
  }
  return chain;
}
