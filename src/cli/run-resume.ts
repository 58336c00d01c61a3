/**
 * What `ckptd run --resume` restores before starting CMD (SPEC sections 7 and 8): the first intact
 * backup in `resumeCandidates`' order (one rule for both: a backup of the interrupted training,
 * complete ones first) of the local store, or, when the local store holds none, of the run's
 * remote. A backup found damaged is marked (as `ckptd verify` would) and the next one is tried.
 */
import type { RunConfig } from '../config/types.js';
import { runHoldsFiles } from '../ops/diff.js';
import { executeOp } from '../ops/execute.js';
import { resumeCandidates, type SessionRecord } from '../ops/session.js';
import { openRunRemote } from '../ops/remote-open.js';
import { scanRun } from '../ops/run-actions.js';
import { waitForSettled } from '../ops/settle.js';
import { storeOf } from '../store/local-store.js';
import type { ReadSnapshotHeader } from '../store/store.js';
import type { ScanEntry } from '../store/types.js';
import { SafetyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** How long `--resume` waits for the run to settle before restoring (a crashed trainer's last writes). */
const RESTORE_SETTLE_WAIT_MS = 30_000;

/** A backup restored (or found already in place) before CMD started. */
export interface Restored {
  id: string;
  epoch: number | null;
  step: number | null;
}

/** One line for the person at the terminal (stderr: stdout is the trainer's). */
export function say(line: string): void {
  process.stderr.write(`ckptd run: ${line}\n`);
}

/**
 * Before restoring `backup`: when it left files out (tried only once no complete backup could be
 * restored), says so, naming them, on stderr and in the log.
 */
function noteIncomplete(backup: { id: string; skipped: { path: string }[] }, log: Logger): void {
  if (backup.skipped.length === 0) return;
  const names = backup.skipped.slice(0, 5).map((s) => s.path).join(', ') + (backup.skipped.length > 5 ? `, and ${backup.skipped.length - 5} more` : '');
  const line =
    `backup ${backup.id} is incomplete (left out: ${names}); no complete backup of the training could be restored, so it is: ` +
    'the files it left out stay as the run has them (the pre-restore snapshot keeps the rest of what is there)';
  say(line);
  log.warn(line, { event: 'resume-incomplete', id: backup.id });
}

/**
 * Restores the first of `candidates` (`resumeCandidates`' order) that is intact. Waits (bounded)
 * for the run to settle first; refuses (exit 3) while something still writes into it. A backup
 * whose files turn out damaged is verified, marked damaged (as `ckptd verify` would) and skipped
 * for the next one. A run that already holds a backup's files (same sizes and mtimes) is left
 * alone: nothing to restore.
 */
export async function restoreNewest(run: RunConfig, candidates: ReadSnapshotHeader[], log: Logger): Promise<Restored | null> {
  let said = '';
  try {
    await waitForSettled(run, RESTORE_SETTLE_WAIT_MS, (reason) => {
      if (reason !== said) say(`waiting for the run to settle before restoring: ${reason}`);
      said = reason;
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SafetyError(`not restoring: ${(err as Error).message}; stop whatever still writes into ${run.path} first`);
    }
  }
  for (const candidate of candidates) {
    // Each candidate's manifest read when it is tried, not all of them at once (tens of MB each for
    // runs of 100,000 files); one gone or unreadable since the listing is skipped.
    const backup = await storeOf(run.store).resolve(candidate.id).catch(() => null);
    if (backup === null || backup.id !== candidate.id || backup.kind !== 'backup') continue;
    const entries = await scanRun(run).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as ScanEntry[];
      throw err;
    });
    noteIncomplete(backup, log);
    if (runHoldsFiles(backup.files, entries)) {
      say(`the run already holds the files of backup ${backup.id}; nothing to restore`);
      return { id: backup.id, epoch: backup.epoch, step: backup.step };
    }
    try {
      const outcome = await executeOp(run, { kind: 'restore', id: backup.id, force: false, to: null }, { logger: log, now: Date.now() });
      say(outcome.message);
      return { id: backup.id, epoch: backup.epoch, step: backup.step };
    } catch (err) {
      if (err instanceof SafetyError) throw err;
      const store = storeOf(run.store);
      const check = await store.verify(backup).catch(() => null);
      if (check === null || check.ok) throw err;
      await store.markVerified(check, Date.now());
      say(`backup ${backup.id} is damaged (${check.missing.length} missing, ${check.changed.length} changed file(s)); marked it and trying the next newest`);
    }
  }
  say('no intact backup left to restore; starting the trainer on the run as it is');
  return null;
}

/**
 * `--resume` on a machine whose local store holds no backup: restores the first backup of the
 * run's remote in `resumeCandidates`' order (after `previous`, complete ones first) whose objects
 * are all there (checked first, as `verify --remote`; one that is not is marked damaged and
 * skipped), with every safety of a restore (each file's sha256 is checked before anything in the
 * run is replaced). Null when the remote holds none.
 */
export async function restoreNewestRemote(run: RunConfig, previous: SessionRecord | null, log: Logger): Promise<Restored | null> {
  const remote = await openRunRemote(run);
  try {
    for (const backup of resumeCandidates(await remote.listSnapshots(), previous)) {
      const check = await remote.verifyExists(backup);
      if (!check.ok) {
        await remote.markVerified(check, Date.now()).catch(() => undefined);
        say(`remote backup ${backup.id} lacks objects (${check.missing.length} missing, ${check.changed.length} of another size); trying the next newest`);
        continue;
      }
      noteIncomplete(backup, log);
      try {
        const outcome = await executeOp(run, { kind: 'restore', id: backup.id, force: false, to: null, remote: true }, { logger: log, now: Date.now() });
        say(outcome.message);
        return { id: backup.id, epoch: backup.epoch, step: backup.step };
      } catch (err) {
        if (err instanceof SafetyError) throw err;
        // As for a local backup: a failure that a full check explains is damage, anything else is not.
        const full = await remote.verify(backup).catch(() => null);
        if (full === null || full.ok) throw err;
        await remote.markVerified(full, Date.now());
        say(`remote backup ${backup.id} is damaged (${full.missing.length} missing, ${full.changed.length} changed file(s)); marked it and trying the next newest`);
      }
    }
  } finally {
    remote.objects.close();
  }
  say(`the remote ${remote.location} holds no intact backup of this run; starting the trainer on the run as it is`);
  return null;
}

