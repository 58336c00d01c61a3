/**
 * One run's evaluations: look at the run folder, and when its state has settled and changed (or a
 * timer, cron, retry or request forces it), ask the policy core what to do and do it; persist the
 * counters and anchors. Also serves the queued store operations, which must not race a capture.
 * Called one at a time by the run's supervisor, which makes it the store's single writer.
 *
 * Contract:
 * - `evaluate` first checks that the run folder leads where it was recorded (`RunFolderPlace`,
 *   checked again before each backup, save or manual snapshot and before the retention after a
 *   backup): while it leads elsewhere (swapped for a symbolic link) nothing is scanned, captured or
 *   deleted; it warns once (`run-folder-moved`, naming both places and the fix), answers waiting
 *   requests with that error, records it for `ckptd status` (kind `run-folder-moved`) and looks
 *   again in `RETRY_AFTER_MS` (and at each watch event); once the folder is back it says so
 *   (`run-folder-back`), clears that record and goes on as before.
 * - `evaluate` scans the run; a missing run folder or one without included files answers waiting
 *   backup-now and manual requests with an error. Unless the state changed since the last settled
 *   state evaluated (at the first look after a start: since the newest snapshot, and a state a
 *   restore put in place counts as unchanged), something is due, or progress moved, it returns.
 *   Otherwise, once nothing blocks but files that never settle, it acts: logs each decision
 *   (`decision`), captures backups (then applies retention), exports saves, takes manual
 *   snapshots, answers the requests, re-arms the policy timer and logs `evaluated` with the digest.
 *   A `state.json` that cannot be written fails no backup: logged once, written again at the next
 *   evaluation (see `saveState`).
 *   An unsettled state is looked at again when it may have settled.
 * - A failed backup or save is logged and retried in `RETRY_AFTER_MS` (a lost lock is not retried;
 *   low disk is a warning); nothing stored was changed. A cron tick the failure left unserved stays
 *   due for the retry. Each failed attempt is recorded for `ckptd status` (`failures`) until a
 *   backup or save succeeds.
 * - `serveOps` runs the queued operations (a restore into the run only while the run folder leads
 *   where it was recorded: else it fails with the same message); after a restore into the run,
 *   the restored files are taken as the settled state already seen, so they are not mistaken for
 *   the trainer's, and the epoch and step anchors move back to the restored progress
 *   (`rewindAnchors`).
 */
import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '../config/types.js';
import { decide, recordTaken } from '../policy/decide.js';
import { rewindAnchors } from '../policy/record-taken.js';
import { nextTimerAt } from '../policy/next-timer.js';
import type { Facts, PolicyConfig, Progress, RunState } from '../policy/types.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { LockLostError } from '../store/lock-signal.js';
import type { StoreLock } from '../store/store.js';
import { storeOf } from '../store/local-store.js';
import { leftOutOf, stateDigest } from '../store/scan.js';
import { writeRunState } from '../store/state-file.js';
import type { LeftOut, RecordMeta, ScanEntry, SnapshotMeta } from '../store/types.js';
import { formatProgress } from '../util/format.js';
import type { Logger } from '../util/logger.js';
import { executeOp } from '../ops/execute.js';
import { applyRetention, captureSnapshot, exportSave, LowDiskError, progressOf, scanRun } from '../ops/run-actions.js';
import { verdictOf } from '../ops/settle.js';
import type { BlockingFiles } from './blocking-files.js';
import { FailureRecord } from './failure-record.js';
import { RunFolderMovedError, RunFolderPlace } from './run-folder-place.js';
import type { RequestQueue } from './request-queue.js';
import { isRestoredState } from './restored-state.js';
import type { RunTriggers } from './run-triggers.js';

/** How long to wait before trying again after a failed snapshot or save. */
export const RETRY_AFTER_MS = 30_000;

/** The policy core's view of a run's config: its backup and save policies. */
export function policyConfigOf(run: RunConfig): PolicyConfig {
  return {
    backup: { every: run.backup.every, cron: run.backup.cron, beforeSave: run.backup.beforeSave },
    save: { every: run.save.every, cron: run.save.cron },
  };
}

export class RunEvaluation {
  /** Digest of the last settled state evaluated; null until the first evaluation after start. */
  private lastSettledDigest: string | null = null;
  /** Told of every record this run commits (the background push queues it); errors are logged, never fatal. */
  onCommitted: (record: Pick<RecordMeta, 'id' | 'kind'>) => Promise<void> = () => Promise.resolve();
  private lastProgressKey = '';
  /**
   * The newest policy backup this daemon took, when it left files out (still being written then),
   * and which: once they are in a settled state, the next evaluation completes it (`completesRule`).
   */
  private leftOutBy: { id: string; paths: string[] } | null = null;
  /** The last write of `state.json` failed: `this.state` is newer than the file (see `saveState`). */
  private stateUnsaved = false;
  /** How long the last scan of the run took. */
  scanMs = 0;
  /** The failed attempts since the last backup or save that succeeded, as `ckptd status` shows them. */
  readonly failures: FailureRecord;
  /** Where the run folder really is; recorded at the start (`RunSupervisor.start`) and checked before every capture. */
  readonly runFolder = new RunFolderPlace();
  /** The warning last given about the run folder leading elsewhere; null while it leads where recorded. */
  private movedWarning: string | null = null;

  constructor(
    private readonly runOf: () => RunConfig,
    private state: RunState,
    private newestDigest: string | null,
    private readonly lock: StoreLock,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly triggers: RunTriggers,
    private readonly queue: RequestQueue,
    private readonly blocking: BlockingFiles,
    /** The `ckptd run` session this daemon serves, recorded in every snapshot it takes; undefined for `ckptd daemon`. */
    private readonly session?: string,
  ) {
    this.failures = new FailureRecord(() => this.runOf().store, logger);
  }

  /** The next look judges change against the newest snapshot again (the watch was set up afresh). */
  forgetSettled(): void {
    this.lastSettledDigest = null;
  }

  /** Arms the time policy's timer from the current config and anchors. */
  armPolicyTimer(): void {
    this.triggers.armPolicyTimer(nextTimerAt(policyConfigOf(this.runOf()), this.state));
  }

  /** Looks at the run once: see the contract above. */
  async evaluate(): Promise<void> {
    const run = this.runOf();
    if (this.stateUnsaved) await this.saveState(this.state);
    if (!(await this.runFolderInPlace(run))) return;
    const t0 = performance.now();
    let all: ScanEntry[];
    try {
      all = await scanRun(run);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || (err as NodeJS.ErrnoException).path !== run.path) throw err;
      // The trainer has not created its folder yet (or deleted it): the watcher reports its creation.
      if (this.lastSettledDigest !== 'missing') this.logger.info(`waiting for ${run.path} to be created`, { event: 'waiting-for-run' });
      this.lastSettledDigest = 'missing';
      // The watcher itself follows the folder being deleted and created again.
      this.queue.failSnapshotRequests(`the run folder ${run.path} does not exist`);
      return;
    }
    this.scanMs = performance.now() - t0;
    // While some path blocks, every look re-checks it, so a hot file is seen cooling down.
    let blockers = this.blocking.any ? await this.blocking.look(this.runOf(), all, this.now()) : null;
    const entries = all.filter((e) => !this.blocking.isHot(e.path));
    const digest = stateDigest(entries);
    const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
    const progressKey = progressKeyOf(progress);
    let changed = this.lastSettledDigest === null ? digest !== this.newestDigest : digest !== this.lastSettledDigest;
    // First look after a start: the state a restore put in place (by `ckptd restore` without a
    // daemon, or `ckptd run --resume`: its pre-restore snapshot is the newest) is already stored,
    // not a new change; backing it up again would only push an older backup out of `keep`.
    if (changed && this.lastSettledDigest === null && (await isRestoredState(run.store, entries))) changed = false;
    const forced = this.triggers.anyDue || this.queue.snapshotsWaiting;
    if (!changed && !forced && progressKey === this.lastProgressKey) return;
    if (entries.length === 0) {
      if (this.lastSettledDigest !== digest) this.logger.info(`nothing to capture yet: ${run.path} holds no included files`, { event: 'empty' });
      this.lastSettledDigest = digest;
      this.queue.failSnapshotRequests('the run folder holds no included files');
      return;
    }
    blockers ??= await this.blocking.look(this.runOf(), all, this.now());
    const verdict = verdictOf(blockers.filter((b) => !this.blocking.isHot(b.path)));
    if (!verdict.settled) {
      this.logger.debug(`waiting for the state to settle: ${verdict.reason}`, { event: 'settling' });
      this.triggers.kick(verdict.retryInMs);
      return;
    }
    const neverSettled = this.blocking.neverSettled(run.settleMs, this.now());
    await this.act(entries, digest, changed, progress, { neverSettled, leftOut: leftOutOf(all) });
    this.lastSettledDigest = digest;
    this.lastProgressKey = progressKey;
  }

  private async act(
    entries: ScanEntry[],
    digest: string,
    changed: boolean,
    progress: Progress,
    left: { neverSettled: { path: string; reason: string }[]; leftOut: LeftOut[] },
  ): Promise<void> {
    const { neverSettled, leftOut } = left;
    const run = this.runOf();
    const now = this.now();
    const { backupNow, manual } = this.queue.takeSnapshotRequests();
    const due = this.triggers.takeDue();
    const facts: Facts = {
      progress,
      digest,
      newestSnapshotDigest: this.newestDigest,
      changed,
      cronDue: { backup: due.cronBackup, save: due.cronSave },
      backupNow: backupNow.length > 0,
      completes: this.completes(entries),
    };
    const decision = decide(policyConfigOf(run), this.state, facts, now);
    await this.saveState(decision.state);

    const at = formatProgress(progress);
    const skipLevel = changed ? 'info' : 'debug';
    for (const s of decision.skips) this.logger[skipLevel](`${at}: no ${s.kind}: ${s.reason}`, { event: 'decision', action: 'skip', policy: s.kind, epoch: progress.epoch, step: progress.step });
    for (const a of decision.actions) this.logger.info(`${at}: ${a.kind} due: ${a.reason}`, { event: 'decision', action: a.kind, trigger: a.trigger, epoch: progress.epoch, step: progress.step });

    let backup: SnapshotMeta | null = null;
    // The cron ticks not yet served: a failed action keeps them for its retry (the next tick may be hours away).
    const unserved = { cronBackup: due.cronBackup, cronSave: due.cronSave };
    // What a failure failed: a save fails after its backup was taken and kept.
    let acting: 'snapshot' | 'save' = 'snapshot';
    try {
      for (const a of decision.actions) {
        acting = a.kind === 'save' ? 'save' : 'snapshot';
        await this.runFolder.check(run.path);
        if (a.kind === 'backup') {
          backup = await captureSnapshot(run, entries, { kind: 'backup', trigger: a.trigger, progress, now, neverSettled, leftOut, signal: this.lock.signal, session: this.session }, this.logger);
          this.newestDigest = backup.state_digest;
          this.leftOutBy = backup.skipped.length > 0 ? { id: backup.id, paths: backup.skipped.map((f) => f.path) } : null;
          await this.failures.succeeded();
          await this.tellCommitted(backup);
          // Anchored where the stored files are, which is later than decided when the trainer moved on.
          await this.saveState(recordTaken(this.state, 'backup', progressOf(backup, progress.source), backup.state_digest, now));
          unserved.cronBackup = false;
          // Swapped during the capture: no backup is deleted for one that may hold another folder.
          await this.runFolder.check(run.path);
          // The config in force now, not the one this evaluation began with: an edit saved while the
          // backup was taken applies to the retention after it.
          await applyRetention(this.runOf, backup.id, now, this.logger, this.lock.signal);
        } else {
          const from = backup ?? (await this.backupOf(digest));
          // A save exported from a backup holds that backup's bytes, so it carries its labels.
          const saved = from ? progressOf(from, progress.source) : progress;
          const save = await exportSave(run, entries, saved, a.trigger, from, now, this.logger, this.lock.signal);
          await this.failures.succeeded();
          if (save) await this.tellCommitted(save);
          await this.saveState(recordTaken(this.state, 'save', saved, from?.state_digest ?? digest, now));
          unserved.cronSave = false;
          // save.keep counts the save just exported now, not at the next backup's retention.
          if (save && this.runOf().save.keep !== null) await applyRetention(this.runOf, backup?.id ?? null, now, this.logger, this.lock.signal);
        }
      }
      for (const w of backupNow) w(backup ? { ok: true, snapshotId: backup.id } : { ok: false, error: 'no backup was taken', exitCode: 1 });
    } catch (err) {
      await this.onActionFailed(err as Error, unserved, acting);
      for (const w of backupNow) w({ ok: false, error: (err as Error).message, exitCode: 1 });
    }

    for (const m of manual) {
      try {
        await this.runFolder.check(run.path);
        const snap = await captureSnapshot(
          run,
          entries,
          { kind: 'manual', trigger: 'manual', name: m.name, notes: m.notes, pinned: m.pinned, progress, now: this.now(), neverSettled, leftOut, signal: this.lock.signal, session: this.session },
          this.logger,
        );
        this.newestDigest = snap.state_digest;
        // A complete snapshot holds what the incomplete backup left out.
        if (snap.skipped.length === 0) this.leftOutBy = null;
        await this.tellCommitted(snap);
        m.reply({ ok: true, snapshotId: snap.id });
      } catch (err) {
        this.logger.error(`manual snapshot failed: ${(err as Error).message}`, { event: 'error' });
        m.reply({ ok: false, error: (err as Error).message, exitCode: 1 });
      }
    }
    this.armPolicyTimer();
    this.logger.debug(`evaluated ${at}`, { event: 'evaluated', epoch: progress.epoch, step: progress.step, digest });
  }

  private async tellCommitted(record: Pick<RecordMeta, 'id' | 'kind'>): Promise<void> {
    await this.onCommitted(record).catch((err: unknown) => this.logger.warn(`could not queue ${record.id} for push: ${(err as Error).message}`, { event: 'push-failed', id: record.id }));
  }

  private async onActionFailed(err: Error, unserved: { cronBackup: boolean; cronSave: boolean }, what: 'snapshot' | 'save' = 'snapshot'): Promise<void> {
    // The lock-lost handler stops this run and says why; a retry would only be refused again.
    if (err instanceof LockLostError) {
      this.logger.error(`snapshot not committed: ${err.message}`, { event: 'error' });
      return;
    }
    if (err instanceof RunFolderMovedError) return this.onRunFolderMoved(err, unserved);
    if (err instanceof LowDiskError) this.logger.warn(err.message, { event: 'low-disk' });
    else this.logger.error(`${what} failed, nothing stored was changed: ${err.message}; retrying in ${RETRY_AFTER_MS / 1000}s`, { event: 'error' });
    this.triggers.retryIn(RETRY_AFTER_MS, unserved);
    await this.failures.failed(err instanceof LowDiskError ? 'low-disk' : 'error', err.message, this.now(), RETRY_AFTER_MS);
  }

  /**
   * Whether the run folder leads where it was recorded (see the contract above); when it does not,
   * the failure is reported and handled (`onRunFolderMoved`) and the caller looks no further.
   */
  private async runFolderInPlace(run: RunConfig): Promise<boolean> {
    try {
      await this.runFolder.check(run.path);
    } catch (err) {
      if (!(err instanceof RunFolderMovedError)) throw err;
      await this.onRunFolderMoved(err, {});
      return false;
    }
    if (this.movedWarning !== null) {
      this.movedWarning = null;
      this.logger.info(`the run folder ${run.path} leads where it was recorded again (or the config names its new place); backups go on`, { event: 'run-folder-back', path: run.path });
      await this.failures.cleared('run-folder-moved');
    }
    return true;
  }

  /** Warns once per place the run folder leads to, fails the waiting requests, records it for `ckptd status`, looks again later. */
  private async onRunFolderMoved(err: RunFolderMovedError, unserved: { cronBackup?: boolean; cronSave?: boolean }): Promise<void> {
    if (this.movedWarning !== err.message) this.logger.warn(err.message, { event: 'run-folder-moved', path: err.path, recorded: err.recorded, now: err.now });
    this.movedWarning = err.message;
    this.queue.failSnapshotRequests(err.message);
    this.triggers.retryIn(RETRY_AFTER_MS, unserved);
    await this.failures.failed('run-folder-moved', err.message, this.now(), RETRY_AFTER_MS);
  }

  /**
   * The newest backup that captured exactly the state `digest`, if any: found among the headers,
   * then read in full (holding every manifest of a store of 100,000-file snapshots took hundreds of MB).
   */
  private async backupOf(digest: string): Promise<SnapshotMeta | null> {
    const store = storeOf(this.runOf().store);
    const found = (await store.listSnapshotHeaders()).find((s) => s.kind === 'backup' && s.state_digest === digest);
    if (found === undefined) return null;
    const full = await store.resolve(found.id).catch(() => null);
    return full !== null && full.id === found.id && full.kind === 'backup' ? full : null;
  }

  /**
   * Holds `next` as the run's state and writes it to `state.json`. A write that fails (a full disk,
   * a read-only store) is logged once and tried again at each evaluation until it succeeds: the
   * decisions go on from the state held here, and a backup is never given up for its bookkeeping.
   * A lost lock still throws (the run stops).
   */
  private async saveState(next: RunState): Promise<void> {
    if (!this.stateUnsaved && isDeepStrictEqual(next, this.state)) return;
    this.state = next;
    try {
      await writeRunState(this.runOf().store, next);
      if (this.stateUnsaved) this.logger.info('the run\'s state is recorded again', { event: 'state-saved' });
      this.stateUnsaved = false;
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      if (!this.stateUnsaved) {
        this.logger.error(`could not record the run's state (counters and anchors): ${(err as Error).message}; the policies go on from the state held in memory, written again at the next evaluation`, {
          event: 'state-unsaved',
        });
      }
      this.stateUnsaved = true;
    }
  }

  /** What of the files the newest incomplete backup left out `entries` (a settled state) now holds. */
  private completes(entries: readonly ScanEntry[]): { id: string; paths: string[] } | null {
    const by = this.leftOutBy;
    if (by === null) return null;
    const paths = by.paths.filter((p) => entries.some((e) => e.path === p));
    return paths.length === 0 ? null : { id: by.id, paths };
  }

  /**
   * Runs the store operations people asked for (delete, restore, labels), before evaluating: the
   * store has one writer. After a restore into the run, its own writes are taken as the settled
   * state already seen, so they are not mistaken for the trainer's, and the anchors move back with it.
   */
  serveOps(): Promise<void> {
    return this.queue.serveOps(async (op, onProgress) => {
      // Nothing is restored into a folder the run's path was swapped to lead to.
      if (op.kind === 'restore' && op.to === null) await this.runFolder.check(this.runOf().path);
      const outcome = await executeOp(this.runOf(), op, { logger: this.logger, now: this.now(), onProgress, signal: this.lock.signal });
      // The snapshot a restore took first is pushed like the backups (push: backups sends pre-restore).
      const pre = outcome.data.pre_restore;
      if (op.kind === 'restore' && typeof pre === 'string') await this.tellCommitted({ id: pre, kind: 'pre-restore' });
      if (op.kind === 'restore' && op.to === null) {
        // The run is another state now: what an earlier backup left out is not owed any more.
        this.leftOutBy = null;
        const entries = await scanRun(this.runOf());
        const progress = await readProgress(this.runOf().path, this.runOf().progress, runFilesOf(entries));
        this.lastSettledDigest = stateDigest(entries);
        this.lastProgressKey = progressKeyOf(progress);
        // The training goes on from the restored epoch and step: count the next multiple from there.
        await this.saveState(rewindAnchors(this.state, progress));
      }
      this.newestDigest = (await storeOf(this.runOf().store).newestGoodHeader())?.state_digest ?? null;
      return outcome;
    });
  }
}

/** What of the progress, when it moves, is worth an evaluation even with no file changed. */
function progressKeyOf(p: Progress): string {
  return JSON.stringify([p.epoch, p.step, p.loss]);
}
