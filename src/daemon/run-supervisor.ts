/**
 * One run inside the daemon: watches its folder, waits for settled states, asks the policy core
 * what to do, does it, and persists the counters and anchors. All snapshot work for the run's store
 * happens one piece at a time on this supervisor (`busy`), so the store has a single writer.
 */
import fs from 'node:fs';
import os from 'node:os';
import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';
import picomatch from 'picomatch';
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import { decide, recordTaken } from '../policy/decide.js';
import { formatEvery } from '../policy/format.js';
import { hotPaths, isHot, NO_BLOCKING, SKIP_AFTER_WINDOWS, trackBlocking, type Blocking, type BlockingState } from '../policy/hot-files.js';
import { nextTimerAt } from '../policy/next-timer.js';
import type { Facts, PolicyConfig, Progress, RunState } from '../policy/types.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { acquireStoreLock, LockLostError, type StoreLock } from '../store/lock.js';
import { ensureStore } from '../store/layout.js';
import { supportsReflink } from '../store/reflink.js';
import { listSnapshots, newestGoodSnapshot, readSnapshot } from '../store/read-store.js';
import { leftOutOf, stateDigest } from '../store/scan.js';
import { readRunState, writeRunState } from '../store/state-file.js';
import { sweepStore } from '../store/delete-snapshot.js';
import { writeBlocking } from '../store/blocking-file.js';
import type { LeftOut, ScanEntry, SnapshotMeta } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { formatDuration, formatProgress } from '../util/format.js';
import { isInside } from '../util/paths.js';
import { runHoldsFiles } from '../ops/diff.js';
import { executeOp } from '../ops/execute.js';
import { restoredIdOf } from '../ops/restore.js';
import { planStore } from '../ops/retention.js';
import type { StoreOp } from '../ops/types.js';
import { CkptdError } from '../util/errors.js';
import { serveRequests, type DaemonReply, type DaemonRequest, type RequestServer } from './requests.js';
import { applyRetention, captureSnapshot, exportSave, LowDiskError, progressOf, scanRun } from '../ops/run-actions.js';
import { findBlockers, verdictOf, type TimedBlocker } from '../ops/settle.js';
import { isWatchLimitError, WATCH_LIMIT_ADVICE, watchRun, type Watcher } from './watcher.js';

/** How long to wait before trying again after a failed snapshot or save. */
const RETRY_AFTER_MS = 30_000;
/**
 * How often the rescan that backstops lost watcher events runs, after a scan that took `scanMs`:
 * every minute, stretched for runs whose scan is slow so that at most 1% of the time is scanning.
 */
export function rescanIntervalMs(scanMs: number): number {
  return Math.max(60_000, scanMs * 100);
}
/** How often a run folder that does not exist yet is looked for. */
const FOLDER_POLL_MS = 1000;
/** setTimeout cannot wait longer than this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Waiter = (reply: DaemonReply) => void;
interface ManualRequest {
  name: string | null;
  notes: string | null;
  pinned: boolean;
  reply: Waiter;
}

export function policyConfigOf(run: RunConfig): PolicyConfig {
  return {
    backup: { every: run.backup.every, cron: run.backup.cron, beforeSave: run.backup.beforeSave },
    save: { every: run.save.every, cron: run.save.cron },
  };
}

export class RunSupervisor {
  private watcher: Watcher | null = null;
  private requests: RequestServer | null = null;
  private cronTasks: ScheduledTask[] = [];
  private settleTimer: NodeJS.Timeout | null = null;
  private policyTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  /** Fires once files left out for never settling have been quiet for `settle`. */
  private coolTimer: NodeJS.Timeout | null = null;
  private folderPoll: NodeJS.Timeout | null = null;
  /** Set when inotify ran out of watches: this run is polled from then on. */
  private polling = false;
  /** Watcher activity by relative path ('' = the run folder itself) -> when; pruned at each look. */
  private readonly activity = new Map<string, number>();
  /** Paths that keep the state from settling, and which of them are left out (`policy/hot-files.ts`). */
  private blocking: BlockingState = NO_BLOCKING;
  /** Digest of the last settled state evaluated; null until the first evaluation after start. */
  private lastSettledDigest: string | null = null;
  private lastProgressKey = '';
  private newestDigest: string | null = null;
  private busy = false;
  private again = false;
  private stopped = false;
  private scanMs = 0;
  private readonly pending = {
    timer: false,
    cronBackup: false,
    cronSave: false,
    retry: false,
    backupNow: [] as Waiter[],
    manual: [] as ManualRequest[],
    ops: [] as { op: StoreOp; reply: Waiter; progress: (done: number, total: number) => void }[],
  };
  private current: Promise<void> = Promise.resolve();

  private constructor(
    private run: RunConfig,
    private state: RunState,
    private readonly lock: StoreLock,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

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
      sup.kick(0);
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
    const rewatch =
      prev.path !== next.path ||
      prev.save.to !== next.save.to ||
      prev.watch !== next.watch ||
      JSON.stringify([prev.include, prev.exclude]) !== JSON.stringify([next.include, next.exclude]);
    this.run = next;
    const changes = describeChanges(prev, next);
    if (changes.length > 0) this.logger.info(`config changed: ${changes.join('; ')}`, { event: 'reload' });
    const retentionOf = (r: RunConfig): string => JSON.stringify([r.backup.rolling, r.backup.keep, r.retention, r.save.keep]);
    if (retentionOf(prev) !== retentionOf(next)) await this.previewRetention();
    if (rewatch) {
      await this.stopWatching();
      this.lastSettledDigest = null;
      this.startWatching();
    } else {
      this.armCron();
      this.armPolicyTimer();
    }
    this.kick(0);
  }

  /** Stops watching; waits (bounded) for a snapshot in progress to finish, then releases the lock. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopped = true;
    await this.stopWatching();
    const finished = await Promise.race([this.current.then(() => true), sleep(graceMs).then(() => false)]);
    if (!finished) this.logger.warn('stopping with a snapshot still in progress; it is abandoned and cleaned up at the next start');
    for (const w of this.pending.backupNow) w({ ok: false, error: 'the daemon is stopping', exitCode: 1 });
    for (const m of this.pending.manual) m.reply({ ok: false, error: 'the daemon is stopping', exitCode: 1 });
    for (const o of this.pending.ops) o.reply({ ok: false, error: 'the daemon is stopping', exitCode: 1 });
    await this.lock.release().catch((err: unknown) => this.logger.warn(`could not release the store lock: ${(err as Error).message}`));
  }

  private startWatching(): void {
    this.attachWatcher();
    this.requests = serveRequests(
      this.run.store,
      (req, progress) => this.onRequest(req, progress),
      (err) => this.logger.warn(`requests: ${err.message}`),
    );
    this.armCron();
    this.armPolicyTimer();
    this.armRescan();
  }

  /**
   * Watches the run folder, or, while it does not exist, checks for it every second: a watch
   * needs a folder to watch (and chokidar, used for polling, misses files written into a folder
   * created after its watch started: chokidar issues #462, #1422).
   */
  private attachWatcher(): void {
    const run = this.run;
    if (!fs.existsSync(run.path)) {
      this.folderPoll ??= setInterval(() => {
        if (!fs.existsSync(this.run.path)) return;
        if (this.folderPoll) clearInterval(this.folderPoll);
        this.folderPoll = null;
        this.attachWatcher();
        this.kick(0);
      }, FOLDER_POLL_MS);
      return;
    }
    const userExcluded = picomatch(run.exclude.length > 0 ? run.exclude : ['\0'], { dot: true });
    const included = picomatch(run.include, { dot: true });
    this.watcher = watchRun(run.path, {
      ignoreDirs: [run.store, run.save.to],
      onActivity: (abs) => {
        const inside = isInside(abs, run.path);
        const rel = inside ? path.relative(run.path, abs).split(path.sep).join('/') : '';
        // Files the person excluded (logs, event files) must not keep the state from settling;
        // temp files ckptd never stores still count: they are the trainer at work.
        if (rel !== '' && (userExcluded(rel) || !includedOrDir(included, rel))) return;
        this.activity.set(rel, this.now());
        // A file left out for never settling is still watched (to see it cool down), but its
        // endless writes must not wake the daemon every settle window.
        // Its quiet is noticed by a timer of its own, reset at each of its writes.
        if (isHot(this.blocking, rel)) {
          if (this.coolTimer) clearTimeout(this.coolTimer);
          this.coolTimer = setTimeout(() => this.kick(0), run.settleMs);
          return;
        }
        this.kick(run.settleMs);
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
      onReady: () => this.kick(0),
      usePolling: this.polling || run.watch === 'poll',
    });
  }

  /** Watches afresh (with polling once inotify ran out), or waits for the folder when it is gone. */
  private async reattachWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
    if (!this.stopped) this.attachWatcher();
  }

  private async stopWatching(): Promise<void> {
    for (const t of [this.settleTimer, this.policyTimer, this.rescanTimer, this.coolTimer]) if (t) clearTimeout(t);
    this.settleTimer = this.policyTimer = this.rescanTimer = this.coolTimer = null;
    if (this.folderPoll) clearInterval(this.folderPoll);
    this.folderPoll = null;
    for (const t of this.cronTasks) await t.destroy();
    this.cronTasks = [];
    this.requests?.close();
    this.requests = null;
    await this.watcher?.close();
    this.watcher = null;
  }

  private armCron(): void {
    for (const t of this.cronTasks) void t.destroy();
    this.cronTasks = [];
    const add = (expr: string | null, flag: 'cronBackup' | 'cronSave'): void => {
      if (!expr) return;
      this.cronTasks.push(
        scheduleCron(expr, () => {
          this.pending[flag] = true;
          this.kick(0);
        }),
      );
    };
    add(this.run.backup.cron, 'cronBackup');
    add(this.run.save.cron, 'cronSave');
  }

  private armPolicyTimer(): void {
    if (this.policyTimer) clearTimeout(this.policyTimer);
    this.policyTimer = null;
    const at = nextTimerAt(policyConfigOf(this.run), this.state);
    const now = this.now();
    // A time policy that is due but found the state unchanged waits for the next change instead.
    if (at === null || at <= now || this.stopped) return;
    this.policyTimer = setTimeout(() => {
      this.pending.timer = true;
      this.kick(0);
    }, Math.min(at - now, MAX_TIMER_MS));
  }

  private armRescan(): void {
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    const every = rescanIntervalMs(this.scanMs);
    this.rescanTimer = setTimeout(() => {
      this.kick(0);
      this.armRescan();
    }, every);
  }

  /** Asks for an evaluation in `ms` (the latest request wins, so bursts of events debounce). */
  private kick(ms: number): void {
    if (this.stopped) return;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      void this.tick();
    }, Math.max(0, ms));
  }

  private async tick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const work = this.runOps().then(() => this.evaluate()).catch((err: unknown) => {
      this.logger.error(`evaluation failed: ${(err as Error).message}; retrying in ${RETRY_AFTER_MS / 1000}s`, { event: 'error' });
      this.pending.retry = true;
      this.kick(RETRY_AFTER_MS);
    });
    this.current = work;
    await work;
    this.busy = false;
    if (this.again && !this.stopped) {
      this.again = false;
      this.kick(0);
    }
  }

  private forced(): boolean {
    const p = this.pending;
    return p.timer || p.cronBackup || p.cronSave || p.retry || p.backupNow.length > 0 || p.manual.length > 0;
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
      this.failWaiters(`the run folder ${run.path} does not exist`);
      return;
    }
    this.scanMs = performance.now() - t0;
    // While some path blocks, every look re-checks it, so a hot file is seen cooling down.
    let blockers = Object.keys(this.blocking).length > 0 ? await this.look(all) : null;
    const entries = all.filter((e) => !isHot(this.blocking, e.path));
    const digest = stateDigest(entries);
    const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
    const progressKey = JSON.stringify([progress.epoch, progress.step, progress.loss]);
    let changed = this.lastSettledDigest === null ? digest !== this.newestDigest : digest !== this.lastSettledDigest;
    // First look after a start: the state a restore put in place (by `ckptd restore` without a
    // daemon, or `ckptd run --resume`: its pre-restore snapshot is the newest) is already stored,
    // not a new change; backing it up again would only push an older backup out of `keep`.
    if (changed && this.lastSettledDigest === null && (await this.isRestoredState(entries))) changed = false;
    if (!changed && !this.forced() && progressKey === this.lastProgressKey) return;
    if (entries.length === 0) {
      if (this.lastSettledDigest !== digest) this.logger.info(`nothing to capture yet: ${run.path} holds no included files`, { event: 'empty' });
      this.lastSettledDigest = digest;
      this.failWaiters('the run folder holds no included files');
      return;
    }
    blockers ??= await this.look(all);
    const verdict = verdictOf(blockers.filter((b) => !isHot(this.blocking, b.path)));
    if (!verdict.settled) {
      this.logger.debug(`waiting for the state to settle: ${verdict.reason}`, { event: 'settling' });
      this.kick(verdict.retryInMs);
      return;
    }
    const neverSettled = hotPaths(this.blocking).map((p) => ({ path: p, reason: neverSettledReason(this.blocking[p]!, run.settleMs, this.now()) }));
    await this.act(entries, digest, changed, progress, { neverSettled, leftOut: leftOutOf(all) });
    this.lastSettledDigest = digest;
    this.lastProgressKey = progressKey;
  }

  /**
   * Finds what keeps the run from settling now (hot paths included), folds it into `blocking`,
   * and reports paths that started or stopped blocking for long. Returns the blockers.
   */
  private async look(all: ScanEntry[]): Promise<TimedBlocker[]> {
    const now = this.now();
    for (const [rel, at] of this.activity) if (now - at >= this.run.settleMs) this.activity.delete(rel);
    const blockers = await findBlockers(this.run, all, this.activity, now);
    const update = trackBlocking(this.blocking, blockers, now, this.run.settleMs);
    this.blocking = update.state;
    for (const b of update.warned) {
      this.logger.warn(
        `${b.path} has kept the state from settling for ${formatDuration(now - b.since)} (${b.reason}): no backup can be taken while it changes; ` +
          `if it need not be backed up, add it to the exclude list of run "${this.run.name}" (exclude: ["${b.path}"]); ` +
          `after ${SKIP_AFTER_WINDOWS} settle windows it is left out of backups`,
        { event: 'keeps-changing', path: b.path },
      );
    }
    for (const b of update.hot) {
      this.logger.warn(
        `${b.path} never settles (${b.reason}); backups are taken without it from now on and are marked incomplete, until it settles; ` +
          `add it to exclude (exclude: ["${b.path}"]) to leave it out for good`,
        { event: 'never-settles', path: b.path },
      );
    }
    for (const b of update.cleared) this.logger.info(`${b.path} has settled again${b.hot ? ' and is backed up again' : ''}`, { event: 'settled-again', path: b.path });
    if (update.warned.length + update.hot.length + update.cleared.length > 0) {
      await writeBlocking(this.run.store, Object.values(this.blocking).filter((b) => b.warned)).catch((err: unknown) =>
        this.logger.warn(`could not record the blocking files for status: ${(err as Error).message}`),
      );
    }
    return blockers;
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
    const backupNow = this.pending.backupNow.splice(0);
    const manual = this.pending.manual.splice(0);
    const facts: Facts = {
      progress,
      digest,
      newestSnapshotDigest: this.newestDigest,
      changed,
      cronDue: { backup: this.pending.cronBackup, save: this.pending.cronSave },
      backupNow: backupNow.length > 0,
    };
    this.pending.timer = this.pending.cronBackup = this.pending.cronSave = this.pending.retry = false;
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
    this.pending.retry = true;
    this.kick(RETRY_AFTER_MS);
  }

  /**
   * True when the newest good snapshot is a pre-restore one and the run holds exactly the files of
   * the snapshot that restore put in place (to the microsecond of their mtimes, all a restore can
   * set: a restored state's digest differs from its snapshot's). Reads at most two records.
   */
  private async isRestoredState(entries: ScanEntry[]): Promise<boolean> {
    const newest = await newestGoodSnapshot(this.run.store);
    const id = newest?.kind === 'pre-restore' ? restoredIdOf(newest.trigger) : null;
    const restored = id === null ? null : await readSnapshot(this.run.store, id).catch(() => null);
    return restored !== null && !restored.damaged && runHoldsFiles(restored.files, entries);
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

  private failWaiters(error: string): void {
    for (const w of this.pending.backupNow.splice(0)) w({ ok: false, error, exitCode: 1 });
    for (const m of this.pending.manual.splice(0)) m.reply({ ok: false, error, exitCode: 1 });
  }

  /**
   * Runs the store operations people asked for (delete, restore, labels), before evaluating: the
   * store has one writer. After a restore into the run, its own writes are taken as the settled
   * state already seen, so they are not mistaken for the trainer's.
   */
  private async runOps(): Promise<void> {
    for (const { op, reply, progress } of this.pending.ops.splice(0)) {
      try {
        const outcome = await executeOp(this.run, op, { logger: this.logger, now: this.now(), onProgress: progress });
        if (op.kind === 'restore' && op.to === null) {
          const entries = await scanRun(this.run);
          const progress = await readProgress(this.run.path, this.run.progress, runFilesOf(entries));
          this.lastSettledDigest = stateDigest(entries);
          this.lastProgressKey = JSON.stringify([progress.epoch, progress.step, progress.loss]);
        }
        this.newestDigest = (await newestGoodSnapshot(this.run.store))?.state_digest ?? null;
        reply({ ok: true, outcome });
      } catch (err) {
        const exitCode = err instanceof CkptdError ? err.exitCode : 1;
        this.logger.warn(`${op.kind} not done: ${(err as Error).message}`, { event: 'op-failed', op: op.kind });
        reply({ ok: false, error: (err as Error).message, exitCode });
      }
    }
  }

  private onRequest(req: DaemonRequest, progress: (done: number, total: number) => void): Promise<DaemonReply> {
    return new Promise((resolve) => {
      if (req.type === 'op') {
        this.logger.info(`${req.op.kind} requested`, { event: 'request', op: req.op.kind });
        this.pending.ops.push({ op: req.op, reply: resolve, progress });
      } else if (req.type === 'backup-now') {
        this.logger.info('backup requested (backup-now); taking it at the next settled moment', { event: 'request' });
        this.pending.backupNow.push(resolve);
      } else {
        this.logger.info(`manual snapshot requested${req.name ? ` ("${req.name}")` : ''}`, { event: 'request' });
        this.pending.manual.push({ name: req.name, notes: req.notes, pinned: req.pinned, reply: resolve });
      }
      this.kick(0);
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

/** Why a never-settling file is not in a snapshot, with the fix (listed in the snapshot's `skipped`). */
function neverSettledReason(b: Blocking, settleMs: number, now: number): string {
  return `never settled: kept changing for ${formatDuration(now - b.since)} (over ${SKIP_AFTER_WINDOWS} settle windows of ${formatDuration(settleMs)}; ${b.reason}); add it to exclude if it need not be backed up`;
}

function includedOrDir(included: (p: string) => boolean, rel: string): boolean {
  // Folder events (`checkpoint-500` appearing) matter even though only files match include globs.
  return included(rel) || !path.posix.extname(rel);
}

function describeChanges(prev: RunConfig, next: RunConfig): string[] {
  const out: string[] = [];
  const cmp = (label: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${label} ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
  };
  cmp('backup.every', prev.backup.everyText, next.backup.everyText);
  cmp('backup.cron', prev.backup.cron, next.backup.cron);
  cmp('backup.keep', prev.backup.keep, next.backup.keep);
  cmp('backup.rolling', prev.backup.rolling, next.backup.rolling);
  cmp('backup.before_save', prev.backup.beforeSave, next.backup.beforeSave);
  cmp('save.every', prev.save.everyText, next.save.everyText);
  cmp('save.cron', prev.save.cron, next.save.cron);
  cmp('save.prefix', prev.save.prefix, next.save.prefix);
  cmp('save.files', prev.save.files, next.save.files);
  cmp('save.to', prev.save.to, next.save.to);
  cmp('include', prev.include, next.include);
  cmp('exclude', prev.exclude, next.exclude);
  cmp('settle', prev.settleMs, next.settleMs);
  cmp('watch', prev.watch, next.watch);
  cmp('progress', prev.progress, next.progress);
  cmp('path', prev.path, next.path);
  cmp('retention', prev.retention, next.retention);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
