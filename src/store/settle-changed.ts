/**
 * The settled judgement of a capture (SPEC section 1), before each pass: which pending files may be
 * copied now, and how long to pause before the next pass so the rest can settle.
 *
 * Contract: a file is settled when its version has been quiet for `settleMs` since first seen (the
 * caller's version counts as settled that long already), its mtime is at least `settleMs` old (a
 * negative age, from clock skew or a future stamp, is not waited for), no other process holds it
 * open for writing, and, when the previous snapshot, one newer than it (`SettleRule.lastKnown`) or
 * this capture held it with bytes (or left it out) and it is now empty, it was emptied at least `EMPTIED_QUIET_MS` ago (`policy/emptied-file.ts`, the rule the
 * daemon's settle check shares). `judgeChanged` writes the verdict into each slot (`unsettled`, `heldOpen`,
 * and `changedAt` for a caller's version found unsettled); it captures, skips or writes nothing.
 */
import { emptiedRecently, mayBeEmptiedRecently, type KnownBefore } from '../policy/emptied-file.js';
import { mtimeMsOf } from '../util/fs.js';
import { merged } from './last-known.js';
import type { Slot } from './capture-set.js';
import { describeWriter, findOpenWriters, type FilesByInode, type FindWriters, type OpenWriter } from './open-writers.js';

/** What the judgement needs of the capture. */
export interface SettleRule {
  /** The real path of the run's folder: every source is really under it. */
  runReal: string;
  /** The run's `settle` (ms). */
  settleMs: number;
  /**
   * Processes holding any of `paths` (absolute), or a file under one of them, open for writing;
   * with `byInode`, also those holding one of its files open under another path (`findOpenWriters`).
   */
  openWriters: FindWriters;
  /** The paths the previous snapshot left out (still being written then): their last version is unknown. */
  leftOutBefore: ReadonlySet<string>;
  /** Files this capture saw with bytes and found empty since, with the size they had (`CaptureSet.emptiedDuring`). */
  emptiedDuring: ReadonlyMap<string, number>;
  /**
   * What snapshots newer than the previous one knew of files (see `lastKnownOnce`), asked about
   * the files empty now that the previous snapshot did not hold with bytes; null: none to ask.
   */
  lastKnown: ((paths: readonly string[]) => Promise<Map<string, KnownBefore>>) | null;
}

/** What a manifest that could not be read says of a file: held with bytes (waiting costs a moment; an empty version stored costs a checkpoint). */
const UNKNOWN_HELD: KnownBefore = { size: Number.MAX_SAFE_INTEGER, leftOut: false };

/**
 * `ask` with each path's answer kept for the rest of the capture (a path is asked once however
 * many passes judge it), and a failed question answered "held with bytes" for the paths it asked.
 */
export function lastKnownOnce(ask: ((paths: readonly string[]) => Promise<Map<string, KnownBefore>>) | undefined): SettleRule['lastKnown'] {
  if (ask === undefined) return null;
  const kept = new Map<string, KnownBefore>();
  return async (paths) => {
    const todo = paths.filter((p) => !kept.has(p));
    if (todo.length > 0) {
      const answers = await ask(todo).catch(() => new Map<string, KnownBefore>());
      for (const p of todo) kept.set(p, answers.get(p) ?? UNKNOWN_HELD);
    }
    return new Map(paths.map((p) => [p, kept.get(p)!]));
  };
}

/**
 * Judges each changed file of `items` settled or not (`unsettled`, `heldOpen`): quiet for
 * `settleMs` since its version was first seen, mtime at least `settleMs` old, not open for writing.
 * On the `first` pass every regular file is judged, not only the changed ones.
 */
export async function judgeChanged(items: Slot[], first: boolean, rule: SettleRule): Promise<void> {
  const now = Date.now();
  // The first pass judges every file as well: the caller's verdict is a moment old, and a writer
  // may have opened a file since without changing it yet.
  const changedSlots = items.filter((s) => s.changedAt !== null || (first && s.entry.type === 'file'));
  for (const s of changedSlots) {
    const quiet = s.changedAt === null ? rule.settleMs : now - s.changedAt;
    const age = now - mtimeMsOf(s.entry.mtimeNs);
    s.heldOpen = false;
    // A negative age is a clock skew or a file stamped in the future: do not wait for it forever.
    s.unsettled =
      quiet < rule.settleMs
        ? `changed ${quiet}ms ago`
        : age >= 0 && age < rule.settleMs
          ? `modified ${age}ms ago`
          : emptiedRecently(s.entry, age, rule.settleMs, knownOf(s, rule))
            ? `emptied ${age}ms ago`
            : null;
    if (s.unsettled !== null && s.changedAt === null) s.changedAt = now;
  }
  if (changedSlots.length === 0) return;
  await judgeEmptiedByNewer(changedSlots, now, rule);
  // One question about the run's folder, the few writers it finds matched to the slots by their
  // relative paths: a question naming every file built 100,000 absolute paths and two maps of
  // them (~25 MB alive at the start of a capture of a large run, on top of the scan and manifests).
  // The judged files go along for a writer that holds one open under another path (a container).
  const inRun = rule.runReal.endsWith('/') ? rule.runReal : `${rule.runReal}/`;
  const writers = new Map<string, OpenWriter>();
  const byInode: FilesByInode = { dir: rule.runReal, files: changedSlots.map((s) => s.entry) };
  for (const w of await rule.openWriters([rule.runReal], byInode)) {
    const rel = w.path.startsWith(inRun) ? w.path.slice(inRun.length) : null;
    if (rel !== null && !writers.has(rel)) writers.set(rel, w);
  }
  if (writers.size === 0) return;
  for (const s of changedSlots) {
    const w = writers.get(s.entry.path);
    if (w === undefined) continue;
    s.heldOpen = true;
    s.unsettled = `open for writing by ${describeWriter(w)}`;
    s.changedAt ??= now;
  }
}

/** What the previous snapshot and this capture knew of a slot's file before (see `policy/emptied-file.ts`). */
function knownOf(s: Slot, rule: SettleRule): KnownBefore {
  return merged({ size: s.prev?.size ?? null, leftOut: rule.leftOutBefore.has(s.entry.path) }, rule.emptiedDuring.get(s.entry.path) ?? null, false);
}

/**
 * The files judged settled that are empty and modified less than `EMPTIED_QUIET_MS` ago: when a
 * snapshot newer than the previous one held one with bytes or left it out, it was emptied moments
 * ago (unsettled). Most captures have none, and ask nothing.
 */
async function judgeEmptiedByNewer(slots: readonly Slot[], now: number, rule: SettleRule): Promise<void> {
  if (rule.lastKnown === null) return;
  const ageOf = (s: Slot): number => now - mtimeMsOf(s.entry.mtimeNs);
  // The size first: on the first pass every file of the run is judged.
  const candidates = slots.filter((s) => s.unsettled === null && s.entry.size === 0 && mayBeEmptiedRecently(s.entry, ageOf(s), rule.settleMs));
  if (candidates.length === 0) return;
  const known = await rule.lastKnown(candidates.map((s) => s.entry.path));
  for (const s of candidates) {
    const age = ageOf(s);
    if (!emptiedRecently(s.entry, age, rule.settleMs, known.get(s.entry.path)!)) continue;
    s.unsettled = `emptied ${age}ms ago`;
    s.changedAt ??= now;
  }
}

/** How long the changed files of `slots` still pending need before they can be settled (at most `settleMs`). */
export function settleWait(slots: readonly Slot[], settleMs: number): number {
  const now = Date.now();
  let wait = 0;
  for (const s of slots) {
    if (s.captured !== null || s.skipped !== null || s.changedAt === null) continue;
    wait = Math.max(wait, s.heldOpen ? settleMs : settleMs - (now - s.changedAt), settleMs - Math.max(0, now - mtimeMsOf(s.entry.mtimeNs)));
  }
  return Math.min(Math.max(0, wait), settleMs);
}

/** Processes other than this one holding any of `paths` open for writing (this one holds only its own copies open). */
export async function otherWriters(paths: string[], byInode?: FilesByInode): Promise<OpenWriter[]> {
  return (await findOpenWriters(paths, byInode)).filter((w) => w.pid !== process.pid);
}
