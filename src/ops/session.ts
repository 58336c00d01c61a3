/**
 * `ckptd run` sessions: the pure decisions live in `policy/session.ts` (re-exported here for the
 * command); this adds the one that needs the platform's signal numbers.
 */
import os from 'node:os';

export * from '../policy/session.js';

/** ckptd's exit code for CMD's end: its exit code, or 128 + N when signal N killed it (as shells do). */
export function exitCodeOf(code: number | null, signal: string | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : (os.constants.signals as Record<string, number>)[signal];
  return n === undefined ? 1 : 128 + n;
}
