/**
 * `<store>/watch.json`: why the daemon watches the run other than as configured (today: polled,
 * because inotify ran out of watches), written by the daemon when that happens and cleared when it
 * starts; read by `ckptd status`. Only meaningful while that daemon runs: a reader checks the lock
 * holder first.
 */
import fsp from 'node:fs/promises';
import { writeFileAtomic } from './durable.js';
import { watchNoteFile } from './layout.js';

/** Records `note` (null: the run is watched as configured). */
export async function writeWatchNote(store: string, note: string | null): Promise<void> {
  await writeFileAtomic(watchNoteFile(store), `${JSON.stringify({ note }, null, 2)}\n`);
}

/** The note the daemon last recorded; null when none, or the file is missing or not what `writeWatchNote` writes. */
export async function readWatchNote(store: string): Promise<string | null> {
  try {
    const raw = JSON.parse(await fsp.readFile(watchNoteFile(store), 'utf8')) as { note?: unknown };
    return typeof raw.note === 'string' ? raw.note : null;
  } catch {
    return null;
  }
}
