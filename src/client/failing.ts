/**
 * The running daemon's failing backups or saves (`store/failure-note.ts`) as people read them, in
 * `ckptd status` and the Version panel's run header.
 */
import type { FailureNote } from '../store/failure-note.js';
import { printableName } from '../util/format.js';
import { relativeTime } from './list.js';

/** `backups failing since … (3 attempts): <the last error>; retrying every 30 s (next in 12 s)`. */
export function describeFailing(f: FailureNote, now: number): string {
  const what = f.kind === 'evaluation' ? 'the daemon cannot look at the run' : 'backups failing';
  const attempts = `${f.attempts} attempt${f.attempts === 1 ? '' : 's'}${f.attempts > 1 ? `, last ${relativeTime(f.at, now)}` : ''}`;
  const retry = f.retrying_at === null ? 'not retried by itself' : `retrying every ${Math.round((Date.parse(f.retrying_at) - Date.parse(f.at)) / 1000)} s (next in ${Math.max(0, Math.round((Date.parse(f.retrying_at) - now) / 1000))} s)`;
  // The message may name a run file, whose name its writer chose (a newline, an escape sequence).
  return `${what} since ${f.since} (${relativeTime(f.since, now)}; ${attempts}): ${printableName(f.message)}; ${retry}`;
}
