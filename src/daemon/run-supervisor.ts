/**
 * One run inside the daemon: watches its folder, waits for settled states, asks the policy core
 * what to do, does it, and persists the counters and anchors. All snapshot work for the run's store
 * happens one piece at a time on this supervisor (`busy`), so the store has a single writer.
 *
 * It coordinates; the jobs live beside it: `run-triggers.ts` (timers, cron, rescan, folder poll),
 * `request-queue.ts` (what front ends asked), `blocking-files.ts` (files that never settle),
 * `watch-filter.ts` (which watcher events count), `restored-state.ts`, `config-diff.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { RunConfig } from '../config/types.js';
import { decide, recordTaken } from '../policy/decide.js';
import { formatEvery } from '../policy/format.js';
import { nextTimerAt } from '../policy/next-timer.js';
import type { Facts, PolicyConfig, Progress, RunState } from '../policy/types.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { acquireStoreLock, LockLostError, type StoreLock } from '../store/lock.js';
import { ensureStore } from '../store/layout.js';
import { supportsReflink } from '../store/reflink.js';
import { listSnapshots, newestGoodSnapshot } from '../store/read-store.js';
import { leftOutOf, stateDigest } from '../store/scan.js';
import { readRunState, writeRunState } from '../store/state-file.js';
import { sweepStore } from '../store/delete-snapshot.js';
import { writeBlocking } from '../store/blocking-file.js';
import type { LeftOut, ScanEntry, SnapshotMeta } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { formatProgress } from '../util/format.js';
import { executeOp } from '../ops/execute.js';
import { planStore } from '../ops/retention.js';
import { serveRequests, type RequestServer } from './requests.js';
import { applyRetention, captureSnapshot, exportSave, LowDiskError, progressOf, scanRun } from '../ops/run-actions.js';
import { verdictOf } from '../ops/settle.js';
import { isWatchLimitError, WATCH_LIMIT_ADVICE, watchRun, type Watcher } from './watcher.js';
import { BlockingFiles } from './blocking-files.js';
import { describeChanges, needsRewatch, retentionChanged } from './config-diff.js';
import { RequestQueue } from './request-queue.js';
import { isRestoredState } from './restored-state.js';
import { rescanIntervalMs, RunTriggers } from './run-triggers.js';
import { activityPathOf } from './watch-filter.js';

export { rescanIntervalMs };

/** How long to wait before trying again after a failed snapshot or save. */
const RETRY_AFTER_MS = 30_000;

export function policyConfigOf(run: RunConfig): PolicyConfig {
  return {
    backup: { every: run.backup.every, cron: run.backup.cron, beforeSave: run.backup.beforeSave },
    save: { every: run.save.every, cron: run.save.cron },
  };
}

export class RunSupervisor {
  private watcher: Watcher | null = null;
  private requests: RequestServer | null = null;
  private readonly triggers = new RunTriggers(() => void this.tick());
  private readonly queue: RequestQueue;
  private readonly blocking: BlockingFiles;
  /** Set when inotify ran out of watches: this run is polled from then on. */
  private polling = false;
  /** Digest of the last settled state evaluated; null until the first evaluation after start. */
  private lastSettledDigest: string | null = null;
  private lastProgressKey = '';
  private newestDigest: string | null = null;
  private busy = false;
  private again = false;
  private scanMs = 0;
  private current: Promise<void> = Promise.resolve();

  private constructor(
    private run: RunConfig,
    private state: RunState,
    private readonly lock: StoreLock,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.queue = new RequestQueue(logger, () => this.triggers.kick(0));
    this.blocking = new BlockingFiles(logger);
  }

  /**
   * Takes the run's store lock (throws `StoreLockedError` naming the holder), cleans leftovers of
   * an interrupted snapshot, loads the persisted anchors and starts watching.
   */
  static async start(run: RunConfig, logger: Logger, now: () => number, onLockLost: (run: string, err: Error) => void): Promise<RunSupervisor> {
    await ensureStore(run.store);
    const lock = await acquireStoreLock(
      run.store,
      { pid: process.pid, host: os.hostname(), since: new Date(now()).toISOString(), command: 'daemon' },
      (err) => onLockLost(run.name, err),
    );
    try {
      const swept = await sweepStore(run.store, [run.save.to]);
      for (const p of swept.removed) logger.warn(`removed an unfinished snapshot left by an interrupted run: ${p}`, { event: 'swept', path: p });
      for (const p of swept.completed) logger.info(`completed the record of a save an interrupted run had put in place: ${p}`, { event: 'swept', path: p });
      const state = await readRunState(run.store);
      // What a previous daemon found blocking is not this one's to report.
      await writeBlocking(run.store, []);
      const sup = new RunSupervisor(run, state, lock, logger, now);
      sup.newestDigest = (await newestGoodSnapshot(run.store))?.state_digest ?? null;
      sup.startWatching();
      const cow = await supportsReflink(run.store);
      sup.logger.info(
        cow
          ? `the store's file system clones files copy-on-write: changed files cost no extra space until they diverge`
          : `the store's file system has no reflinks: changed files are copied, unchanged ones hard-linked`,
        { event: 'reflink', supported: cow },
      );
      sup.logger.info(`watching ${run.path} (store ${run.store}); backup ${formatEvery(run.backup.every)}, save ${formatEvery(run.save.every)}`, {
        event: 'start',
      });
      sup.triggers.kick(0);
      return sup;
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  get name(): string {
    return this.run.name;
  }

  /** Applies an edited config for this run, keeping counters and anchors. */
  async update(next: RunConfig): Promise<void> {
    const prev = this.run;
    const rewatch = needsRewatch(prev, next);
    this.run = next;
    const changes = describeChanges(prev, next);
    if (changes.length > 0) this.logger.info(`config changed: ${changes.join('; ')}`, { event: 'reload' });
    if (retentionChanged(prev, next)) await this.previewRetention();
    if (rewatch) {
      await this.stopWatching();
      this.lastSettledDigest = null;
      this.startWatching();
    } else {
      this.triggers.armCron(this.run.backup.cron, this.run.save.cron);
      this.armPolicyTimer();
    }
    this.triggers.kick(0);
  }

  /** Stops watching; waits (bounded) for a snapshot in progress to finish, then releases the lock. */
  async stop(graceMs = 20_000): Promise<void> {
    this.triggers.halt();
    await this.stopWatching();
    const finished = await Promise.race([this.current.then(() => true), sleep(graceMs).then(() => false)]);
    if (!finished) this.logger.warn('stopping with a snapshot still in progress; it is abandoned and cleaned up at the next start');
    this.queue.failAll('the daemon is stopping');
    await this.lock.release().catch((err: unknown) => this.logger.warn(`could not release the store lock: ${(err as Error).message}`));
  }

  private startWatching(): void {
    this.attachWatcher();
    this.requests = serveRequests(
      this.run.store,
      (req, progress) => this.queue.accept(req, progress),
      (err) => this.logger.warn(`requests: ${err.message}`),
    );
    this.triggers.armCron(this.run.backup.cron, this.run.save.cron);
    this.armPolicyTimer();
    this.triggers.armRescan(() => rescanIntervalMs(this.scanMs));
  }

  /**
   * Watches the run folder, or, while it does not exist, checks for it every second: a watch
   * needs a folder to watch (and chokidar, used for polling, misses files written into a folder
   * created after its watch started: chokidar issues #462, #1422).
   */
  private attachWatcher(): void {
    const run = this.run;
    if (!fs.existsSync(run.path)) {
      this.triggers.waitForFolder(
        () => fs.existsSync(this.run.path),
        () => {
          this.attachWatcher();
          this.triggers.kick(0);
        },
      );
      return;
    }
    const activityPath = activityPathOf(run);
    this.watcher = watchRun(run.path, {
      ignoreDirs: [run.store, run.save.to],
      onActivity: (abs) => {
        const rel = activityPath(abs);
        if (rel === null) return;
        this.blocking.noteActivity(rel, this.now());
        // A file left out for never settling is still watched (to see it cool down), but its
        // endless writes must not wake the daemon every settle window.
        // Its quiet is noticed by a timer of its own, reset at each of its writes.
        if (this.blocking.isHot(rel)) return this.triggers.coolDown(run.settleMs);
        this.triggers.kick(run.settleMs);
      },
      onError: (err) => {
        if (!this.polling && isWatchLimitError(err)) {
          this.logger.warn(WATCH_LIMIT_ADVICE, { event: 'watch-limit' });
          this.polling = true;
          void this.reattachWatcher();
          return;
        }
        this.logger.warn(`watcher: ${err.message}`, { event: 'watch-error' });
      },
      onReady: () => this.triggers.kick(0),
      usePolling: this.polling || run.watch === 'poll',
    });
  }

  /** Watches afresh (with polling once inotify ran out), or waits for the folder when it is gone. */
  private async reattachWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
    if (!this.triggers.stopped) this.attachWatcher();
  }

  private async stopWatching(): Promise<void> {
    await this.triggers.clear();
    this.requests?.close();
    this.requests = null;
    await this.watcher?.close();
    this.watcher = null;
  }

  private armPolicyTimer(): void {
    this.triggers.armPolicyTimer(nextTimerAt(policyConfigOf(this.run), this.state), this.now());
  }

  private async tick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const work = this.runOps().then(() => this.evaluate()).catch((err: unknown) => {
      this.logger.error(`evaluation failed: ${(err as Error).message}; retrying in ${RETRY_AFTER_MS / 1000}s`, { event: 'error' });
      this.triggers.retryIn(RETRY_AFTER_MS);
    });
    this.current = work;
    await work;
    this.busy = false;
    if (this.again && !this.triggers.stopped) {
      this.again = false;
      this.triggers.kick(0);
    }
  }

  private async evaluate(): Promise<void> {
    const run = this.run;
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
    let blockers = this.blocking.any ? await this.blocking.look(run, all, this.now()) : null;
    const entries = all.filter((e) => !this.blocking.isHot(e.path));
    const digest = stateDigest(entries);
    const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
    const progressKey = JSON.stringify([progress.epoch, progress.step, progress.loss]);
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
    blockers ??= await this.blocking.look(run, all, this.now());
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
    const run = this.run;
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
    };
    const decision = decide(policyConfigOf(run), this.state, facts, now);
    await this.saveState(decision.state);

    const at = formatProgress(progress);
    const skipLevel = changed ? 'info' : 'debug';
    for (const s of decision.skips) this.logger[skipLevel](`${at}: no ${s.kind}: ${s.reason}`, { event: 'decision', action: 'skip', policy: s.kind, epoch: progress.epoch, step: progress.step });
    for (const a of decision.actions) this.logger.info(`${at}: ${a.kind} due: ${a.reason}`, { event: 'decision', action: a.kind, trigger: a.trigger, epoch: progress.epoch, step: progress.step });

    let backup: SnapshotMeta | null = null;
    try {
      for (const a of decision.actions) {
        if (a.kind === 'backup') {
          backup = await captureSnapshot(run, entries, { kind: 'backup', trigger: a.trigger, progress, now, neverSettled, leftOut, signal: this.lock.signal }, this.logger);
          this.newestDigest = backup.state_digest;
          // Anchored where the stored files are, which is later than decided when the trainer moved on.
          await this.saveState(recordTaken(this.state, 'backup', progressOf(backup, progress.source), backup.state_digest, now));
          await applyRetention(run, backup.id, now, this.logger);
        } else {
          const from = backup ?? (await this.backupOf(digest));
          // A save exported from a backup holds that backup's bytes, so it carries its labels.
          const saved = from ? progressOf(from, progress.source) : progress;
          await exportSave(run, entries, saved, a.trigger, from, now, this.logger);
          await this.saveState(recordTaken(this.state, 'save', saved, from?.state_digest ?? digest, now));
        }
      }
      for (const w of backupNow) w(backup ? { ok: true, snapshotId: backup.id } : { ok: false, error: 'no backup was taken', exitCode: 1 });
    } catch (err) {
      this.onActionFailed(err as Error);
      for (const w of backupNow) w({ ok: false, error: (err as Error).message, exitCode: 1 });
    }

    for (const m of manual) {
      try {
        const snap = await captureSnapshot(
          run,
          entries,
          { kind: 'manual', trigger: 'manual', name: m.name, notes: m.notes, pinned: m.pinned, progress, now: this.now(), neverSettled, leftOut, signal: this.lock.signal },
          this.logger,
        );
        this.newestDigest = snap.state_digest;
        m.reply({ ok: true, snapshotId: snap.id });
      } catch (err) {
        this.logger.error(`manual snapshot failed: ${(err as Error).message}`, { event: 'error' });
        m.reply({ ok: false, error: (err as Error).message, exitCode: 1 });
      }
    }
    this.armPolicyTimer();
    this.logger.debug(`evaluated ${at}`, { event: 'evaluated', epoch: progress.epoch, step: progress.step, digest });
  }

  private onActionFailed(err: Error): void {
    // The lock-lost handler stops this run and says why; a retry would only be refused again.
    if (err instanceof LockLostError) {
      this.logger.error(`snapshot not committed: ${err.message}`, { event: 'error' });
      return;
    }
    if (err instanceof LowDiskError) this.logger.warn(err.message, { event: 'low-disk' });
    else this.logger.error(`snapshot failed, nothing stored was changed: ${err.message}; retrying in ${RETRY_AFTER_MS / 1000}s`, { event: 'error' });
    this.triggers.retryIn(RETRY_AFTER_MS);
  }

  /** The newest backup that captured exactly the state `digest`, if any. */
  private async backupOf(digest: string): Promise<SnapshotMeta | null> {
    return (await listSnapshots(this.run.store)).find((s) => s.kind === 'backup' && s.state_digest === digest) ?? null;
  }

  private async saveState(next: RunState): Promise<void> {
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    await writeRunState(this.run.store, next);
  }

  /**
   * Runs the store operations people asked for (delete, restore, labels), before evaluating: the
   * store has one writer. After a restore into the run, its own writes are taken as the settled
   * state already seen, so they are not mistaken for the trainer's.
   */
  private runOps(): Promise<void> {
    return this.queue.serveOps(async (op, onProgress) => {
      const outcome = await executeOp(this.run, op, { logger: this.logger, now: this.now(), onProgress });
      if (op.kind === 'restore' && op.to === null) {
        const entries = await scanRun(this.run);
        const progress = await readProgress(this.run.path, this.run.progress, runFilesOf(entries));
        this.lastSettledDigest = stateDigest(entries);
        this.lastProgressKey = JSON.stringify([progress.epoch, progress.step, progress.loss]);
      }
      this.newestDigest = (await newestGoodSnapshot(this.run.store))?.state_digest ?? null;
      return outcome;
    });
  }

  /** Logs what edited retention rules will delete at the next backup (they never delete sooner). */
  private async previewRetention(): Promise<void> {
    const plan = await planStore(this.run, this.now());
    const remove = [...plan.snapshots.remove, ...plan.saves.remove];
    if (remove.length === 0) return;
    this.logger.info(
      `retention preview: at the next backup, the new rules will delete ${remove.map((r) => `${r.id} (${r.reasons[0]?.text})`).join(', ')}`,
      { event: 'retention-preview', remove: remove.map((r) => r.id) },
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
