/**
 * The daemon's background push of one run (SPEC section 8): every committed record of a pushed
 * kind is queued at once (so local retention keeps it), then sent by a loop that never holds up a
 * local snapshot. A failure backs the record off (`retryDelayMs`) and the loop sleeps until it is
 * due; hours offline cost nothing but a timer. The queue and half-sent uploads survive a restart:
 * the loop starts with whatever the queue file holds.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '../config/types.js';
import { inPushTurn, pushQueued, queueForPush, queueIfPushed } from '../ops/push.js';
import { openRunRemote } from '../ops/remote-open.js';
import { applyRemoteRetention } from '../ops/remote-retention.js';
import { readPushQueue } from '../store/push-queue-file.js';
import type { RemoteStore } from '../store/remote/remote-store.js';
import type { RecordMeta } from '../store/types.js';
import type { Logger } from '../util/logger.js';

/** After a pass that could not even reach the remote (listing failed), the next try. */
const PASS_RETRY_MS = 60_000;

export class RunPusher {
  private remote: RemoteStore | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  /** Until the first pass: what the remote lacks is queued once, at start. */
  private caughtUp = false;

  constructor(
    private run: RunConfig,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** True when the run pushes anything. */
  static wanted(run: RunConfig): boolean {
    return run.remote !== null && run.remote.push !== 'none';
  }

  /** A committed record: queued at once when its kind is pushed, then the loop is woken. */
  async committed(record: Pick<RecordMeta, 'id' | 'kind'>): Promise<void> {
    if (await queueIfPushed(this.run, record, this.now())) this.kick();
  }

  /** A new config for the run: a changed remote is reopened at the next pass. */
  update(next: RunConfig): void {
    if (!isDeepStrictEqual(next.remote, this.run.remote)) {
      this.remote?.objects.close();
      this.remote = null;
      this.caughtUp = false;
    }
    this.run = next;
    this.kick();
  }

  /** Runs a pass now, or right after the one under way. */
  kick(): void {
    if (this.abort.signal.aborted || !RunPusher.wanted(this.run)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    let failed = false;
    this.running = this.pass()
      .catch((err: unknown) => {
        // A pass the stop ended did not fail: nothing to report, nothing to back off.
        if (this.abort.signal.aborted) return;
        failed = true;
        this.logger.warn(`push: ${(err as Error).message}; trying again in ${PASS_RETRY_MS / 1000} s`, { event: 'push-failed' });
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        } else if (failed) this.sleep(PASS_RETRY_MS);
        else void this.armRetry();
      });
  }

  /**
   * Stops: whatever the pass is doing is abandoned at once, retries included (an upload's finished
   * parts are kept for the next start).
   */
  async stop(): Promise<void> {
    this.abort.abort(new Error('the daemon is stopping'));
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.remote?.objects.close();
  }

  private async pass(): Promise<void> {
    // Every call of this remote ends when the daemon stops, the sweep and listing of the first pass included.
    this.remote ??= await openRunRemote(this.run, { signal: this.abort.signal });
    if (!this.caughtUp) {
      // What an interrupted push of an earlier daemon left: its scratch folder, and uploads abandoned for over a day.
      const swept = await this.remote.sweep();
      if (swept.removed.length > 0) this.logger.info(`push: cleaned ${swept.removed.length} leftover(s) of interrupted pushes`, { event: 'swept', remote: true });
      const q = await queueForPush(this.run, this.remote, null, this.now());
      if (q.queued.length > 0) this.logger.info(`push: ${q.queued.length} record(s) not yet on ${this.remote.location} queued`, { event: 'push-queued', ids: q.queued });
      this.caughtUp = true;
    }
    const r = await pushQueued(this.run, this.remote, { logger: this.logger, now: this.now, signal: this.abort.signal });
    const remote = this.remote;
    if (r.pushed.length > 0) await inPushTurn(this.run.store, () => applyRemoteRetention(this.run, remote, this.now(), this.logger));
  }

  /** Sleeps until the earliest backed-off record is due (timers never keep the process alive). */
  private async armRetry(): Promise<void> {
    if (this.abort.signal.aborted) return;
    // A queue that cannot be read is tried again as a failed pass is: that pass says why.
    const queue = await readPushQueue(this.run.store).catch(() => null);
    if (queue === null) return this.sleep(PASS_RETRY_MS);
    const due = queue.items.map((i) => i.next_try ?? 0);
    if (due.length === 0) return;
    this.sleep(Math.max(1000, Math.min(...due) - this.now()));
  }

  private sleep(ms: number): void {
    if (this.abort.signal.aborted) return;
    this.timer = setTimeout(() => this.kick(), ms);
    this.timer.unref();
  }
}
