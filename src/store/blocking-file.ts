/**
 * `<store>/blocking.json`: the files that have kept the run's state from settling for a while
 * (`policy/hot-files.ts`), written by the daemon whenever that list changes, read by `ckptd status`.
 * Only meaningful while that daemon runs: a reader checks the lock holder first.
 */
import fsp from 'node:fs/promises';
import type { Blocking } from '../policy/hot-files.js';
import { writeFileAtomic } from './durable.js';
import { blockingFile } from './layout.js';

/** Writes the reported paths (those `warned`), atomically; an empty list when none. */
export async function writeBlocking(store: string, reported: Blocking[]): Promise<void> {
  await writeFileAtomic(blockingFile(store), `${JSON.stringify({ blocking: reported }, null, 2)}\n`);
}

/** The paths the daemon last reported; [] when the file is missing or not what `writeBlocking` writes. */
export async function readBlocking(store: string): Promise<Blocking[]> {
  try {
    const raw = JSON.parse(await fsp.readFile(blockingFile(store), 'utf8')) as { blocking?: unknown };
    if (!Array.isArray(raw.blocking)) return [];
    return raw.blocking.filter(
      (b): b is Blocking =>
        typeof b === 'object' && b !== null && typeof (b as Blocking).path === 'string' && typeof (b as Blocking).since === 'number' && typeof (b as Blocking).reason === 'string',
    );
  } catch {
    return [];
  }
}
