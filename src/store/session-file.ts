/**
 * `<store>/session.json`: the record of the newest `ckptd run` of the store's run, its shape and
 * its reader (the decisions made from it are in `ops/session.ts`). Written atomically and
 * fsynced, so after a machine crash it says what it said before, never half of it. Only
 * `ckptd run` writes it, holding the store.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './durable.js';

/**
 * `<store>/session.json`. Written when CMD has started (`finished: false`) and again when it
 * ended. A record still saying `finished: false` is an interrupted run: CMD exited non-zero, died
 * by a signal, was stopped by a signal to ckptd, or ckptd or the machine went down meanwhile.
 */
export interface SessionRecord {
  format: 1;
  run: string;
  /** ISO 8601 UTC. */
  started: string;
  /** The `ckptd run` process. */
  pid: number;
  host: string;
  /** The boot the session ran in (`/proc/sys/kernel/random/boot_id`); null where unknown. */
  boot_id: string | null;
  /** CMD, as given. */
  command: string[];
  cwd: string;
  /** CMD's process, and its start time in clock ticks after boot (tells a reused pid apart). */
  trainer_pid: number | null;
  trainer_start_ticks: string | null;
  /** The backup restored into the run before CMD started (`--resume`), or null. */
  restored_id: string | null;
  /** True only when CMD exited 0 without ckptd having been asked to stop it. */
  finished: boolean;
  /** ISO 8601 UTC; null while CMD runs (and forever after a crash). */
  ended: string | null;
  exit_code: number | null;
  /** The signal that ended CMD (e.g. `SIGKILL`), or null. */
  signal: string | null;
  /** The stop signal ckptd received and passed on to CMD (`SIGINT`, `SIGTERM`), or null. */
  stopped_by: string | null;
  /**
   * When the newest `ckptd run` of this run that finished ended (null: none did). Backups taken
   * before it belong to a training that finished, so `--resume` never restores them.
   */
  last_finished: string | null;
}

/** Reads a record's text; null for anything that is not a well-formed session record. */
export function parseSession(text: string): SessionRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const str = (x: unknown): x is string => typeof x === 'string';
  const strOrNull = (x: unknown): x is string | null => x === null || typeof x === 'string';
  const intOrNull = (x: unknown): x is number | null => x === null || Number.isInteger(x);
  const ok =
    r.format === 1 &&
    str(r.run) &&
    str(r.started) &&
    Number.isInteger(r.pid) &&
    str(r.host) &&
    strOrNull(r.boot_id) &&
    Array.isArray(r.command) &&
    r.command.every(str) &&
    str(r.cwd) &&
    intOrNull(r.trainer_pid) &&
    strOrNull(r.trainer_start_ticks) &&
    strOrNull(r.restored_id) &&
    typeof r.finished === 'boolean' &&
    strOrNull(r.ended) &&
    intOrNull(r.exit_code) &&
    strOrNull(r.signal) &&
    strOrNull(r.stopped_by) &&
    strOrNull(r.last_finished);
  return ok ? (r as unknown as SessionRecord) : null;
}


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
