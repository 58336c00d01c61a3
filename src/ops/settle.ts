/**
 * "Settled" (SPEC section 1): nothing in the state changed for `settle`, every mtime is at least
 * `settle` old, and (on Linux) no process holds a file of the state open for writing.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import type { PresetName } from '../progress/presets.js';
import { emptiedQuietMs, emptiedRecently, mayBeEmptiedRecently, type KnownBefore } from '../policy/emptied-file.js';
import type { Blocker } from '../policy/hot-files.js';
import {
  ACCELERATE_STATE,
  foldersInProgress,
  HF_CHECKPOINT,
  LIGHTNING_DEEPSPEED,
  LIGHTNING_FSDP,
  ONETRAINER_BACKUP,
  type FolderSave,
  type InProgressRule,
} from '../policy/saves-in-progress.js';
import type { ScanEntry } from '../store/types.js';
import { describeWriter, findOpenWriters, type OpenWriter } from '../store/open-writers.js';
import { selectsPath, stateDigest } from '../store/scan.js';
import { mtimeMsOf } from '../util/fs.js';
import { scanRun } from './run-actions.js';

export type SettleVerdict =
  | { settled: true }
  | { settled: false; retryInMs: number; reason: string };

/** A path that keeps the state from settling now, and when to look again for its sake. */
export interface TimedBlocker extends Blocker {
  retryInMs: number;
}

/**
 * Every path that keeps the state of `entries` from settling at `now`, by each test of SPEC
 * section 1: watcher activity less than `settle` ago (`activity`: relative path -> when; `''` is
 * the run as a whole), an mtime less than `settle` old, and (Linux) a process other than this one
 * holding the file open for writing. A path may appear once per test.
 */
export async function findBlockers(
  run: RunConfig,
  entries: ScanEntry[],
  activity: ReadonlyMap<string, number>,
  now: number,
): Promise<TimedBlocker[]> {
  const out: TimedBlocker[] = [];
  for (const [rel, at] of activity) {
    const quietFor = now - at;
    if (quietFor < run.settleMs) out.push({ path: rel, reason: `${rel === '' ? 'files' : rel} changed ${quietFor}ms ago`, retryInMs: run.settleMs - quietFor });
  }
  for (const e of entries) {
    const age = now - mtimeMsOf(e.mtimeNs);
    // A negative age is a clock skew or a file stamped in the future: do not wait for it forever.
    if (age >= 0 && age < run.settleMs) out.push({ path: e.path, reason: `${e.path} was modified ${age}ms ago`, retryInMs: run.settleMs - age });
  }
  for (const w of await writersOfFiles(run.path, entries)) {
    out.push({ path: w.rel, reason: `${w.rel} is open for writing by ${describeWriter(w)}`, retryInMs: run.settleMs });
  }
  return out;
}

/** The folder saves each progress preset stands for; `auto` judges them all once evident. */
const FOLDER_SAVES: Readonly<Partial<Record<PresetName, readonly FolderSave[]>>> = {
  hf: [HF_CHECKPOINT],
  kohya: [ACCELERATE_STATE],
  onetrainer: [ONETRAINER_BACKUP],
  lightning: [LIGHTNING_DEEPSPEED, LIGHTNING_FSDP],
};

/**
 * The files of `entries` the capture would leave out now for having been emptied moments ago
 * (`policy/emptied-file.ts`: empty, a snapshot before held them with bytes or left them out):
 * each blocks until it has been empty `emptiedQuietMs`, a wait counted as one window of that length,
 * so that a single truncation is waited for, never reported (or left out) as a file that keeps
 * changing. `known` tells what the snapshots before knew (`KnownBeforeReader`) of the few empty files modified that recently.
 */
export async function emptiedBlockers(
  run: RunConfig,
  entries: readonly ScanEntry[],
  now: number,
  known: (paths: string[]) => Promise<ReadonlyMap<string, KnownBefore>>,
): Promise<TimedBlocker[]> {
  // The size first: an mtime parsed for each of a large run's files at every look would be for nothing.
  const fresh = entries.filter((e) => e.size === 0 && mayBeEmptiedRecently(e, now - mtimeMsOf(e.mtimeNs), run.settleMs));
  if (fresh.length === 0) return [];
  const before = await known(fresh.map((e) => e.path));
  const quietMs = emptiedQuietMs(run.settleMs);
  const out: TimedBlocker[] = [];
  for (const e of fresh) {
    const age = now - mtimeMsOf(e.mtimeNs);
    if (emptiedRecently(e, age, run.settleMs, before.get(e.path)!)) out.push({ path: e.path, reason: `${e.path} was emptied ${age}ms ago`, retryInMs: quietMs - age, windowMs: quietMs });
  }
  return out;
}

/**
 * The checkpoint folders of `entries` a trainer is still saving (`policy/saves-in-progress.ts`),
 * each blocking until its last file appears: `checkpoint-N/` for runs whose progress is `hf`,
 * accelerate `*-state/` for `kohya`, OneTrainer backups for `onetrainer`, DeepSpeed and FSDP
 * `*.ckpt/` folders for `lightning`, all of them under `auto` once the run shows that layout; and
 * only where the run's rules would capture that last file. Other runs get none.
 */
export function savesInProgress(run: RunConfig, entries: readonly ScanEntry[]): TimedBlocker[] {
  const p = run.progress;
  const judged: [FolderSave, InProgressRule][] =
    p.kind === 'auto'
      ? Object.values(FOLDER_SAVES).flatMap((saves) => saves.map((save): [FolderSave, InProgressRule] => [save, 'evident']))
      : p.kind === 'preset'
        ? (FOLDER_SAVES[p.preset] ?? []).map((save) => [save, 'all'])
        : [];
  const paths = judged.length > 0 ? entries.map((e) => e.path) : [];
  return judged.flatMap(([save, rule]) =>
    foldersInProgress(paths, save, rule)
      .filter((folder) => selectsPath(run, `${folder}/${save.lastFile}`))
      .map((folder) => ({
        path: folder,
        reason: `${folder} has no ${save.lastFile} yet: ${save.writer} writes it last, so the checkpoint is still being saved`,
        retryInMs: run.settleMs,
        lastFile: save.lastFile,
      })),
  );
}

/**
 * The processes other than this one holding a regular file of `entries` open for writing, with its
 * relative path: under the run's path, or under any other (a bind mount, a container), matched by
 * device and inode. One question about the run's real folder, its few answers matched to the
 * entries: a question naming every file built 100,000 absolute paths and two maps of them at every
 * look (~25 MB alive while the daemon judged a large run).
 */
async function writersOfFiles(runDir: string, entries: readonly ScanEntry[]): Promise<(OpenWriter & { rel: string })[]> {
  const real = await fsp.realpath(runDir).catch(() => path.resolve(runDir));
  const inRun = real.endsWith('/') ? real : `${real}/`;
  const found = (await findOpenWriters([real], { dir: real, files: entries })).filter((w) => w.pid !== process.pid && w.path.startsWith(inRun));
  if (found.length === 0) return [];
  const asked = new Set(found.map((w) => w.path.slice(inRun.length)));
  const files = new Set<string>();
  for (const e of entries) if (e.type === 'file' && asked.has(e.path)) files.add(e.path);
  return found.map((w) => ({ ...w, rel: w.path.slice(inRun.length) })).filter((w) => files.has(w.rel));
}

/** The verdict from the blockers that count (the caller leaves out those it skips). */
export function verdictOf(blockers: readonly TimedBlocker[]): SettleVerdict {
  if (blockers.length === 0) return { settled: true };
  const first = blockers[0]!;
  const others = new Set(blockers.map((b) => b.path)).size - 1;
  return {
    settled: false,
    retryInMs: Math.min(...blockers.map((b) => b.retryInMs)),
    reason: `${first.reason}${others > 0 ? ` (and ${others} more)` : ''}`,
  };
}

/**
 * Judges a fresh scan of the run. `lastActivityAt` is when the watcher last reported activity in
 * the run folder (0 when unknown).
 */
export async function judgeSettled(run: RunConfig, entries: ScanEntry[], lastActivityAt: number, now: number): Promise<SettleVerdict> {
  return verdictOf(await findBlockers(run, entries, new Map([['', lastActivityAt]]), now));
}

/**
 * For CLI commands without a daemon: polls until the run's state is settled (a scan passes
 * `judgeSettled`: every mtime at least `settle` old, no writer, no change seen between polls; and a
 * second scan right after agrees with it) and returns that scan. Gives up after `timeoutMs`. A
 * writer that sets the mtime back and holds no descriptor or shared mapping between its writes is
 * not seen (SPEC section 1 judges by mtime). With `known` (what the store's snapshots knew of a few
 * files, see `KnownBeforeReader`), a file emptied moments ago is waited for as the daemon waits for
 * it (`emptiedBlockers`), so that the capture holds it rather than leaving it out.
 */
export async function waitForSettled(
  run: RunConfig,
  timeoutMs: number,
  onWait: (reason: string) => void,
  known?: (paths: string[]) => Promise<ReadonlyMap<string, KnownBefore>>,
): Promise<ScanEntry[]> {
  const deadline = Date.now() + timeoutMs;
  let prev = await scanRun(run);
  let lastChangeAt = Date.now() - run.settleMs;
  for (;;) {
    const now = Date.now();
    const blockers = await findBlockers(run, prev, new Map([['', lastChangeAt]]), now);
    if (known !== undefined) blockers.push(...(await emptiedBlockers(run, prev, now, known)));
    const verdict = verdictOf(blockers);
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
