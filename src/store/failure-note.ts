/**
 * `<store>/last-failure.json`: the backup or save attempts of the run that have failed since the
 * last one that succeeded, written atomically by the daemon holding the lock after each failed
 * attempt and removed by the next that succeeds (and at its start); read by `ckptd status` and the
 * panel. Only meaningful while that daemon runs: a reader checks the lock holder first.
 */
import fsp from 'node:fs/promises';
import { writeFileAtomic } from './durable.js';
import { failureNoteFile } from './layout.js';
import { assertStoreLockHeld } from './lock-signal.js';

/** Backups or saves failing: since when, how often, and the last failure. */
export interface FailureNote {
  /** The first failed attempt since the last success (ISO 8601). */
  since: string;
  /** The last failed attempt (ISO 8601). */
  at: string;
  attempts: number;
  /** `low-disk`, `error` (a backup or save that failed), `run-folder-moved` (the run folder leads elsewhere than recorded: nothing is backed up) or `evaluation` (looking at the run failed). */
  kind: string;
  message: string;
  /** When the daemon tries again (ISO 8601); null when it does not by itself. */
  retrying_at: string | null;
}

/** Records `note`, atomically; null removes the file (the failures are over). `LockLostError` once this process lost the store's lock. */
export async function writeFailureNote(store: string, note: FailureNote | null): Promise<void> {
  // Never beside the process holding the store now, when this one lost its lock.
  assertStoreLockHeld(store);
  if (note === null) await fsp.rm(failureNoteFile(store), { force: true });
  else await writeFileAtomic(failureNoteFile(store), `${JSON.stringify(note, null, 2)}\n`, { beforeRename: () => assertStoreLockHeld(store) });
}

/** The failures the daemon last recorded; null when none, or the file is missing or not what `writeFailureNote` writes. */
export async function readFailureNote(store: string): Promise<FailureNote | null> {
  try {
    const raw = JSON.parse(await fsp.readFile(failureNoteFile(store), 'utf8')) as Partial<FailureNote>;
    const strings = [raw.since, raw.at, raw.kind, raw.message].every((v) => typeof v === 'string');
    if (!strings || typeof raw.attempts !== 'number' || (raw.retrying_at !== null && typeof raw.retrying_at !== 'string')) return null;
    return raw as FailureNote;
  } catch {
    return null;
  }
}
