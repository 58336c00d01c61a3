/**
 * One run inside the daemon: watches its folder, waits for settled states, asks the policy core
 * what to do, does it, and persists the counters and anchors. All snapshot work for the run's store
 * happens one piece at a time on this supervisor (`busy`), so the store has a single writer.
 *
 * It coordinates (start, config reloads, stop, one evaluation at a time); the jobs live beside it:
 * `run-watch.ts` (the folder's watch), `run-triggers.ts` (timers, cron, rescan, folder poll),
 * `request-queue.ts` (what front ends asked), `run-evaluation.ts` (look, decide, act),
 * `blocking-files.ts` (files that never settle), `restored-state.ts`, `config-diff.ts`.
 */
import os from 'node:os';
import type { RunConfig } from '../config/types.js';
import { formatEvery } from '../policy/format.js';
import { describeProgressSource } from '../progress/describe-source.js';
import { storeOf } from '../store/local-store.js';
import type { StoreLock } from '../store/store.js';
import { readRunState } from '../store/state-file.js';
import { writeBlocking } from '../store/blocking-file.js';
import { writeWatchNote } from '../store/watch-note.js';
import { writeFailureNote } from '../store/failure-note.js';
import type { Logger } from '../util/logger.js';
import { planStore } from '../ops/retention.js';
import { NO_PROGRESS, type Progress, type RunState } from '../policy/types.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { scanRun } from '../ops/run-actions.js';
import { BlockingFiles } from './blocking-files.js';
import { describeChanges, needsRewatch, retentionChanged, stateRedefined } from './config-diff.js';
import { RequestQueue } from './request-queue.js';
import { serveRequests, type RequestServer } from './requests.js';
import { RETRY_AFTER_MS, RunEvaluation } from './run-evaluation.js';
import { rescanIntervalMs, RunTriggers } from './run-triggers.js';
import { executeOp } from '../ops/execute.js';
import { RunPusher } from './run-pusher.js';
import { RunWatch } from './run-watch.js';

export class RunSupervisor {
  private requests: RequestServer | null = null;
  private readonly triggers = new RunTriggers(
    () => void this.tick(),
    () => this.now(),
  );
  private readonly queue: RequestQueue;
  private readonly blocking: BlockingFiles;
  private readonly watch: RunWatch;
  private readonly evaluation: RunEvaluation;
  /** The background push to the run's remote; null while the run pushes nothing. */
  private pusher: RunPusher | null = null;
  private busy = false;
  private again = false;
  /** Set by `stop`: nothing starts watching, serving or pushing again. */
  private stopped = false;
  private current: Promise<void> = Promise.resolve();

  private constructor(
    private run: RunConfig,
    state: RunState,
    newestDigest: string | null,
    private readonly lock: StoreLock,
    private readonly logger: Logger,
    private readonly now: () => number,
    session: string | undefined,
  ) {
    this.queue = new RequestQueue(logger, () => this.triggers.kick(0));
    // What touches only the remote (`push`, `delete --remote`) runs beside the snapshot work, never
    // between evaluations: it may wait hours for the network or for a push in progress.
    this.queue.serveAtOnce(
      (op) => op.kind === 'push' || (op.kind === 'delete' && op.remote === true),
      (op, onProgress) => executeOp(this.run, op, { logger: this.logger, now: this.now(), onProgress, signal: lock.signal }),
    );
    this.blocking = new BlockingFiles(logger);
    this.watch = new RunWatch(() => this.run, this.triggers, logger, (rel, attached) => {
      this.blocking.noteActivity(rel, this.now());
      // A file left out for never settling is still watched (to see it cool down), but its
      // endless writes must not wake the daemon every settle window.
      // Its quiet is noticed by a timer of its own, reset at each of its writes.
      if (this.blocking.isHot(rel)) this.triggers.coolDown(attached.settleMs);
      // While some path keeps the state from settling, each look re-checks it a settle window
      // later, and a write must not put that look off: a log written more often than `settle`
      // would postpone every look for as long as it is written, and never be counted, reported or
      // left out. Otherwise a burst of writes debounces into one look once it is quiet.
      else if (this.blocking.any) this.triggers.kickWithin(attached.settleMs);
      else this.triggers.kick(attached.settleMs);
    });
    this.evaluation = new RunEvaluation(() => this.run, state, newestDigest, lock, logger, now, this.triggers, this.queue, this.blocking, session);
    this.evaluation.onCommitted = (record) => this.pusher?.committed(record) ?? Promise.resolve();
  }

  /** Starts, updates or stops the background push as the run's `remote` says. */
  private async syncPusher(): Promise<void> {
    if (RunPusher.wanted(this.run)) {
      if (this.pusher === null) {
        this.pusher = new RunPusher(this.run, this.logger, this.now);
        this.pusher.kick();
      } else this.pusher.update(this.run);
    } else if (this.pusher !== null) {
      const p = this.pusher;
      this.pusher = null;
      await p.stop();
    }
  }

  /**
   * Takes the run's store lock (throws `StoreLockedError` naming the holder), cleans leftovers of
   * an interrupted snapshot, loads the persisted anchors and starts watching. Its `start` log line
   * names the schedules and what the progress source found (`describeProgressSource`): with nothing
   * found, what to write so that epochs and steps become known.
   */
  static async start(
    run: RunConfig,
    logger: Logger,
    now: () => number,
    onLockLost: (run: string, err: Error) => void,
    session?: string,
  ): Promise<RunSupervisor> {
    const store = storeOf(run.store);
    await store.ensure();
    const lock = await store.lock(
      { pid: process.pid, host: os.hostname(), since: new Date(now()).toISOString(), command: 'daemon' },
      (err) => onLockLost(run.name, err),
    );
    try {
      const swept = await store.sweep([run.save.to]);
      for (const p of swept.removed) logger.warn(`removed an unfinished snapshot left by an interrupted run: ${p}`, { event: 'swept', path: p });
      for (const k of swept.kept ?? []) logger.warn(`could not remove a leftover of an interrupted run (it stays, unused): ${k.reason}`, { event: 'sweep-failed', path: k.path });
      for (const p of swept.completed) logger.info(`completed the record of a save an interrupted run had put in place: ${p}`, { event: 'swept', path: p });
      const state = await readRunState(run.store);
      // What a previous daemon found blocking is not this one's to report.
      await writeBlocking(run.store, []);
      await writeWatchNote(run.store, null);
      await writeFailureNote(run.store, null);
      const newestDigest = (await store.newestGoodHeader())?.state_digest ?? null;
      const sup = new RunSupervisor(run, state, newestDigest, lock, logger, now, session);
      // Where the run folder really is now: a folder later swapped for a link elsewhere is not backed up.
      await sup.evaluation.runFolder.record(run.path);
      sup.startWatching();
      const cow = await store.sharesCopyOnWrite();
      sup.logger.info(
        cow
          ? `the store's file system clones files copy-on-write: changed files cost no extra space until they diverge`
          : `the store's file system has no reflinks: changed files are copied, unchanged ones hard-linked`,
        { event: 'reflink', supported: cow },
      );
      const progress = await startProgress(run);
      sup.logger.info(
        `watching ${run.path} (store ${run.store}); backup ${formatEvery(run.backup.every)}, save ${formatEvery(run.save.every)}; ${describeProgressSource(run.progress, progress)}`,
        { event: 'start', progress_source: progress.source },
      );
      // The pusher first: a backup the first evaluation commits is queued for push at once.
      await sup.syncPusher();
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

  /**
   * Applies an edited config for this run, keeping counters and anchors; the state already seen is
   * judged once by the new policies (`RunTriggers.reconsider`), so one the edit made overdue fires.
   * Does nothing once `stop` was called, also when it comes while the update awaits: a stopped run
   * (its lock lost) may have a replacement already, and two would write one store.
   */
  async update(next: RunConfig): Promise<void> {
    if (this.stopped) return;
    const prev = this.run;
    const rewatch = needsRewatch(prev, next);
    this.run = next;
    const changes = describeChanges(prev, next);
    if (changes.length > 0) this.logger.info(`config changed: ${changes.join('; ')}`, { event: 'reload' });
    if (retentionChanged(prev, next)) await this.previewRetention();
    if (this.stopped) return;
    if (rewatch) {
      await this.stopWatching();
      if (this.stopped) return;
      // Only another set of files is judged afresh: the state already seen is no new change.
      if (stateRedefined(prev, next)) this.evaluation.forgetSettled();
      this.startWatching();
    } else {
      this.triggers.armCron(this.run.backup.cron, this.run.save.cron);
      this.evaluation.armPolicyTimer();
    }
    // Judged by the new policies at once: one that is overdue now fires, once (the backup it takes
    // re-anchors it; a due one finding the state unchanged waits for a change, as ever).
    this.triggers.reconsider();
    await this.syncPusher();
  }

  /** Stops watching; waits (bounded) for a snapshot in progress to finish, then releases the lock. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopped = true;
    this.triggers.halt();
    await this.stopWatching();
    const finished = await Promise.race([this.current.then(() => true), sleep(graceMs).then(() => false)]);
    if (!finished) this.logger.warn('stopping with a snapshot still in progress; it is abandoned and cleaned up at the next start');
    this.queue.failAll('the daemon is stopping');
    await this.pusher?.stop();
    await this.lock.release().catch((err: unknown) => this.logger.warn(`could not release the store lock: ${(err as Error).message}`));
  }

  private startWatching(): void {
    this.watch.attach();
    this.requests = serveRequests(
      this.run.store,
      (req, progress, wanted) => this.queue.accept(req, progress, wanted),
      (err) => this.logger.warn(`requests: ${err.message}`),
    );
    this.triggers.armCron(this.run.backup.cron, this.run.save.cron);
    this.evaluation.armPolicyTimer();
    // The rescan also resyncs the watch: a burst that overflowed inotify's queue lost events.
    this.triggers.armRescan(() => rescanIntervalMs(this.evaluation.scanMs), () => this.watch.resync());
    // A retry pending across a rewatch (its timer went with `stopWatching`) still comes at its moment.
    this.triggers.armRetry();
  }

  private async stopWatching(): Promise<void> {
    await this.triggers.clear();
    this.requests?.close();
    this.requests = null;
    await this.watch.close();
  }

  /** One evaluation at a time: the queued operations, then a look at the run. */
  private async tick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const { failures } = this.evaluation;
    const work = this.evaluation.serveOps().then(() => this.evaluation.evaluate()).then(
      () => failures.evaluated(),
      (err: unknown) => {
        this.logger.error(`evaluation failed: ${(err as Error).message}; retrying in ${RETRY_AFTER_MS / 1000}s`, { event: 'error' });
        this.triggers.retryIn(RETRY_AFTER_MS);
        return failures.failed('evaluation', (err as Error).message, this.now(), RETRY_AFTER_MS);
      },
    );
    this.current = work;
    await work;
    this.busy = false;
    if (this.again && !this.triggers.stopped) {
      this.again = false;
      this.triggers.kick(0);
    }
  }

  /** Logs what edited retention rules will delete at the next backup (they never delete sooner). */
  private async previewRetention(): Promise<void> {
    const plan = await planStore(this.run, this.now(), {}, false);
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

/**
 * The run's progress as the start line reports it: one scan and one read of the progress source.
 * Empty progress when the run folder cannot be scanned (not created yet); never rejects.
 */
async function startProgress(run: RunConfig): Promise<Progress> {
  return scanRun(run).then(
    (entries) => readProgress(run.path, run.progress, runFilesOf(entries)),
    () => NO_PROGRESS,
  );
}
