/**
 * How a local store tells that its records changed: a cheap signature (names and mtimes of the
 * entries of `snapshots/`, `save-records/` and `damaged/`), and `fs.watch` on those folders as a
 * hint to look again early. A label edit renames a new `snapshot.json` into the snapshot's folder,
 * which moves that folder's mtime, so it changes the signature too.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { damagedDir, saveRecordsDir, snapshotsDir } from './layout.js';

const WATCHED = (store: string): string[] => [snapshotsDir(store), saveRecordsDir(store), damagedDir(store)];

/** What the watched folders hold: each entry's name and mtime. Missing folders count as empty. */
export async function localSignature(store: string): Promise<string> {
  const parts: string[] = [];
  for (const dir of WATCHED(store)) {
    const sub = path.basename(dir);
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

/** Hints of activity in a store: `refresh` watches folders that appeared since; `close` stops. */
export interface ActivityWatch {
  refresh(): void;
  close(): void;
}

/**
 * Calls `onActivity` when `fs.watch` reports anything in the store folder or the watched folders
 * (each watched once it exists: call `refresh` to pick up folders made later). Best effort: without
 * inotify watches nothing is reported, and callers must poll `localSignature` as well.
 */
export function watchLocalActivity(store: string, onActivity: () => void): ActivityWatch {
  const watchers = new Map<string, fs.FSWatcher>();
  let closed = false;
  const refresh = (): void => {
    for (const dir of [store, ...WATCHED(store)]) {
      if (closed || watchers.has(dir) || !fs.existsSync(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, () => onActivity());
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
  refresh();
  return {
    refresh,
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
