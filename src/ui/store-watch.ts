/**
 * Tells the Version panel when a store's records change: a snapshot or save appears or goes, a
 * label is edited, `verify` marks one damaged — whoever did it (the daemon, a CLI command, the
 * panel itself). A cheap signature of the store (names and mtimes of the entries of `snapshots/`,
 * `save-records/` and `damaged/`) is compared every `pollMs`, and at once (debounced) when
 * `fs.watch` reports activity in those folders, so changes show within a fraction of a second
 * where inotify works and within `pollMs` everywhere.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface StoreWatchOptions {
  pollMs?: number;
  debounceMs?: number;
}

/** What the watched folders hold: each entry's name and mtime. Missing folders count as empty. */
export async function storeSignature(store: string): Promise<string> {
  const parts: string[] = [];
  for (const sub of ['snapshots', 'save-records', 'damaged']) {
    const dir = path.join(store, sub);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    names.sort();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const st = await fsp.stat(path.join(dir, name)).catch(() => null);
      parts.push(`${sub}/${name}:${st ? st.mtimeMs : 'gone'}`);
    }
  }
  return parts.join('\n');
}

/**
 * Calls `onChange` after the store's signature changes (not for the state it starts in). Returns
 * the function that stops watching.
 */
export function watchStore(store: string, onChange: () => void, opts: StoreWatchOptions = {}): () => void {
  const pollMs = opts.pollMs ?? 2000;
  const debounceMs = opts.debounceMs ?? 150;
  let last: string | null = null;
  let stopped = false;
  let checking = false;
  let again = false;
  let debounce: NodeJS.Timeout | null = null;
  const watchers = new Map<string, fs.FSWatcher>();

  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        const sig = await storeSignature(store);
        if (stopped) return;
        if (last !== null && sig !== last) onChange();
        last = sig;
      } while (again && !stopped);
    } finally {
      checking = false;
    }
    arm();
  };
  const soon = (): void => {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => void check(), debounceMs);
  };
  // Watch each folder once it exists; a store made after the panel started is picked up by the poll.
  const arm = (): void => {
    for (const dir of [store, ...['snapshots', 'save-records', 'damaged'].map((s) => path.join(store, s))]) {
      if (stopped || watchers.has(dir) || !fs.existsSync(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, soon);
        w.on('error', () => {
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch {
        // No inotify watch left, or the folder vanished: the poll still sees every change.
      }
    }
  };

  void check();
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    if (debounce) clearTimeout(debounce);
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}
