/**
 * "Settled" (SPEC section 1): nothing in the state changed for `settle`, every mtime is at least
 * `settle` old, and (on Linux) no process holds a file of the state open for writing.
 */
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import type { ScanEntry } from '../store/types.js';
import { findOpenWriters } from '../store/open-writers.js';
import { stateDigest } from '../store/scan.js';
import { scanRun } from './run-actions.js';

export type SettleVerdict =
  | { settled: true }
  | { settled: false; retryInMs: number; reason: string };

/**
 * Judges a fresh scan of the run. `lastActivityAt` is when the watcher last reported activity in
 * the run folder (0 when unknown).
 */
export async function judgeSettled(
  run: RunConfig,
  entries: ScanEntry[],
  lastActivityAt: number,
  now: number,
): Promise<SettleVerdict> {
  const quietFor = now - lastActivityAt;
  if (quietFor < run.settleMs) {
    return { settled: false, retryInMs: run.settleMs - quietFor, reason: `files changed ${quietFor}ms ago` };
  }
  let newest: ScanEntry | null = null;
  for (const e of entries) if (!newest || BigInt(e.mtimeNs) > BigInt(newest.mtimeNs)) newest = e;
  if (newest) {
    const age = now - Number(BigInt(newest.mtimeNs) / 1_000_000n);
    // A negative age is a clock skew or a file stamped in the future: do not wait for it forever.
    if (age >= 0 && age < run.settleMs) {
      return { settled: false, retryInMs: run.settleMs - age, reason: `${newest.path} was modified ${age}ms ago` };
    }
  }
  const writers = (await findOpenWriters(entries.filter((e) => e.type === 'file').map((e) => path.join(run.path, e.path)))).filter(
    (w) => w.pid !== process.pid,
  );
  if (writers.length > 0) {
    const w = writers[0]!;
    const more = writers.length > 1 ? ` (and ${writers.length - 1} more)` : '';
    return {
      settled: false,
      retryInMs: run.settleMs,
      reason: `${path.relative(run.path, w.path)} is open for writing by pid ${w.pid} (${w.command})${more}`,
    };
  }
  return { settled: true };
}

/**
 * For CLI commands without a daemon: polls until the run's state is settled (two scans `settle`
 * apart agree and `judgeSettled` passes) and returns that scan. Gives up after `timeoutMs`.
 */
export async function waitForSettled(
  run: RunConfig,
  timeoutMs: number,
  onWait: (reason: string) => void,
): Promise<ScanEntry[]> {
  const deadline = Date.now() + timeoutMs;
  let prev = await scanRun(run);
  let lastChangeAt = Date.now() - run.settleMs;
  for (;;) {
    const verdict = await judgeSettled(run, prev, lastChangeAt, Date.now());
    if (verdict.settled) {
      // Confirm with a second scan: a change between the two means the writer is still active.
      const again = await scanRun(run);
      if (stateDigest(again) === stateDigest(prev)) return again;
      prev = again;
      lastChangeAt = Date.now();
      onWait('the state changed while checking');
    } else {
      onWait(verdict.reason);
      if (Date.now() + verdict.retryInMs > deadline) {
        throw new Error(`the run did not settle within ${Math.round(timeoutMs / 1000)}s: ${verdict.reason}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(50, verdict.retryInMs)));
      const again = await scanRun(run);
      if (stateDigest(again) !== stateDigest(prev)) lastChangeAt = Date.now();
      prev = again;
    }
  }
}
