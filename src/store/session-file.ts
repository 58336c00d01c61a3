/**
 * `<store>/session.json`: the record of the newest `ckptd run` of the store's run, its shape and
 * its reader (the decisions made from it are in `ops/session.ts`). Written atomically and
 * fsynced, so after a machine crash it says what it said before, never half of it. Only
 * `ckptd run` writes it, holding the store.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './durable.js';

/** Re-exported: the record's shape and reader are pure (`policy/session.ts`). */
export { parseSession, type SessionRecord } from '../policy/session.js';
import { parseSession, type SessionRecord } from '../policy/session.js';

/** `<store>/session.json`. */
export function sessionFile(store: string): string {
  return path.join(store, 'session.json');
}

/**
 * The store's session record, or null when there is none. A file that cannot be parsed is reported
 * through `onProblem` and read as no record (it cannot have come from `writeSession`).
 */
export async function readSession(store: string, onProblem: (message: string) => void = () => undefined): Promise<SessionRecord | null> {
  let text: string;
  try {
    text = await fsp.readFile(sessionFile(store), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const record = parseSession(text);
  if (record === null) onProblem(`${sessionFile(store)} is not a valid session record; treating it as absent`);
  return record;
}

/** Replaces the store's session record atomically (temp, fsync, rename, fsync of the folder). */
export async function writeSession(store: string, record: SessionRecord): Promise<void> {
  await writeFileAtomic(sessionFile(store), `${JSON.stringify(record, null, 2)}\n`);
}
