/**
 * Everything that wakes one run's supervisor, apart from the watcher's events and requests: the
 * debounced evaluation timer (`kick`), the cron schedules, the time policy's timer, the rescan that
 * backstops lost watcher events, the timer that notices never-settling files going quiet, and the
 * poll for a run folder that does not exist yet.
 *
 * Contract:
 * - `kick(ms)` asks for one evaluation in `ms`; the latest request wins, so bursts debounce. The
 *   evaluation is `onFire`, called with no timer of its own pending. `kickWithin(ms)` asks for one
 *   within `ms` without postponing one asked for sooner.
 * - A cron firing, the policy timer and `reconsider` set a `due` flag and kick at once; the flags
 *   stay set until `takeDue` clears them. `retryIn` makes a retry (and the cron ticks it keeps) due
 *   only once its delay has passed (its timer fired, or the wall clock reached its moment): an
 *   evaluation kicked sooner, by the trainer's writes or by events during the failed one, does
 *   not try the failed snapshot again at once.
 * - After `halt`, nothing is kicked and no policy timer is armed; `clear` cancels every timer,
 *   poll and cron schedule (the flags and a pending retry stay), so the triggers can be armed
 *   again (`armRetry` for the retry's timer).
 * Decides nothing itself: when the time policy is due comes from `policy/next-timer.ts`.
 */
import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';

/** How often a run folder that does not exist yet is looked for. */
const FOLDER_POLL_MS = 1000;
/**
 * The longest the policy timer waits before looking at the wall clock again. Node's timers run on
 * the monotonic clock, which stands still while the machine is suspended and ignores the clock
 * being set: one long timer would fire that much later than the wall-clock time it was armed for.
 */
export const POLICY_RECHECK_MS = 60_000;

/**
 * How often the rescan that backstops lost watcher events runs, after a scan that took `scanMs`:
 * every minute, stretched for runs whose scan is slow so that at most 1% of the time is scanning.
 */
export function rescanIntervalMs(scanMs: number): number {
  return Math.max(60_000, scanMs * 100);
}

/** Why an evaluation must act even on a state already evaluated. */
export interface Due {
  /** The time policy's timer fired. */
  timer: boolean;
  cronBackup: boolean;
  cronSave: boolean;
  /** A failed snapshot, save or evaluation is being retried. */
  retry: boolean;
  /** The config was edited: the state already seen is judged once by the new policies. */
  edited: boolean;
}

const NOTHING_DUE: Due = { timer: false, cronBackup: false, cronSave: false, retry: false, edited: false };

export class RunTriggers {
  private settleTimer: NodeJS.Timeout | null = null;
  /** When `settleTimer` fires, on the monotonic clock (`performance.now()`). */
  private settleAt = 0;
  private policyTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  /** Fires once files left out for never settling have been quiet for `settle`. */
  private coolTimer: NodeJS.Timeout | null = null;
  private folderPoll: NodeJS.Timeout | null = null;
  private cronTasks: ScheduledTask[] = [];
  private due: Due = { ...NOTHING_DUE };
  /** The retry asked for (`retryIn`): its wall-clock moment, whether its timer fired, the cron ticks it keeps. */
  private retry: { at: number; fired: boolean; cronBackup: boolean; cronSave: boolean } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private halted = false;

  /** `now` is the wall clock the policy timer's moment is measured on (ms since the Unix epoch). */
  constructor(
    private readonly onFire: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  get stopped(): boolean {
    return this.halted;
  }

  /** True when some flag is set: the next evaluation must act even on an unchanged state. */
  get anyDue(): boolean {
    const d = this.due;
    // A retry is never among the flags: it comes due by its own moment (`retryDue`).
    return d.timer || d.cronBackup || d.cronSave || d.edited || this.retryDue();
  }

  /** The flags, cleared; a retry only once it is due (then with the cron ticks it keeps). */
  takeDue(): Due {
    const due = this.due;
    this.due = { ...NOTHING_DUE };
    const r = this.retry;
    if (r === null || !this.retryDue()) return due;
    this.retry = null;
    return { ...due, retry: true, cronBackup: due.cronBackup || r.cronBackup, cronSave: due.cronSave || r.cronSave };
  }

  private retryDue(): boolean {
    return this.retry !== null && (this.retry.fired || this.now() >= this.retry.at);
  }

  /** Asks for an evaluation in `ms` (the latest request wins, so bursts of events debounce). */
  kick(ms: number): void {
    if (this.halted) return;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleAt = performance.now() + Math.max(0, ms);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.onFire();
    }, Math.max(0, ms));
  }

  /**
   * Asks for an evaluation within `ms`, never putting off one already asked for sooner: what does
   * not debounce (progress reports, which may come faster than `ms` for hours) must not starve it.
   */
  kickWithin(ms: number): void {
    if (this.settleTimer && this.settleAt <= performance.now() + ms) return;
    this.kick(ms);
  }

  /**
   * Makes a retry due in `ms` (see the contract above) and evaluates then; the cron flags in `keep`
   * (ticks a failed action left unserved) come due with it, so the retry serves them instead of
   * waiting for the next tick. A later call replaces the moment and keeps the earlier cron flags.
   */
  retryIn(ms: number, keep: { cronBackup?: boolean; cronSave?: boolean } = {}): void {
    const prev = this.retry;
    this.retry = { at: this.now() + ms, fired: false, cronBackup: keep.cronBackup === true || prev?.cronBackup === true, cronSave: keep.cronSave === true || prev?.cronSave === true };
    this.armRetry();
  }

  /**
   * Arms the timer of the pending retry (if any) for its wall-clock moment (at once when that has
   * passed): after `clear`, so that a retry pending across a rewatch still comes at its moment, not
   * at the next rescan a minute or more later.
   */
  armRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const r = this.retry;
    if (r === null || this.halted) return;
    // A timer of its own: `kick` keeps only the latest request, and a sooner one would drop it.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.retry !== null) this.retry.fired = true;
      this.kick(0);
    }, Math.max(0, r.at - this.now()));
  }

  /**
   * Marks the state already seen for one more judgement and evaluates now: after a config edit, a
   * policy the edit made overdue (an interval shortened past the time or epochs already waited)
   * fires once, without waiting for the trainer's next change.
   */
  reconsider(): void {
    this.due.edited = true;
    this.kick(0);
  }

  /** Replaces the cron schedules with these (null: none). */
  armCron(backupCron: string | null, saveCron: string | null): void {
    for (const t of this.cronTasks) void t.destroy();
    this.cronTasks = [];
    const add = (expr: string | null, flag: 'cronBackup' | 'cronSave'): void => {
      if (!expr) return;
      this.cronTasks.push(
        scheduleCron(expr, () => {
          this.due[flag] = true;
          this.kick(0);
        }),
      );
    };
    add(backupCron, 'cronBackup');
    add(saveCron, 'cronSave');
  }

  /**
   * Arms the time policy's timer for the wall-clock moment `at` (null: no time policy is pending),
   * looking at the clock at least every `POLICY_RECHECK_MS`, so that it fires within that of `at`
   * after a suspend or a clock set forward, and not early after a clock set back.
   */
  armPolicyTimer(at: number | null): void {
    if (this.policyTimer) clearTimeout(this.policyTimer);
    this.policyTimer = null;
    // A time policy that is due but found the state unchanged waits for the next change instead.
    const now = this.now();
    if (at === null || at <= now || this.halted) return;
    this.policyTimer = setTimeout(() => {
      this.policyTimer = null;
      if (this.now() < at) return this.armPolicyTimer(at);
      this.due.timer = true;
      this.kick(0);
    }, Math.min(at - now, POLICY_RECHECK_MS));
  }

  /** Calls `onRescan` and kicks every `intervalMs()` (asked afresh each time), until `clear`. */
  armRescan(intervalMs: () => number, onRescan: () => void = () => undefined): void {
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => {
      onRescan();
      this.kick(0);
      this.armRescan(intervalMs, onRescan);
    }, intervalMs());
  }

  /** Kicks once `ms` pass without another call: a never-settling file has gone quiet. */
  coolDown(ms: number): void {
    if (this.coolTimer) clearTimeout(this.coolTimer);
    this.coolTimer = setTimeout(() => this.kick(0), ms);
  }

  /** Checks `exists` every second (one poll at a time) and calls `onAppear` once it is true. */
  waitForFolder(exists: () => boolean, onAppear: () => void): void {
    this.folderPoll ??= setInterval(() => {
      if (!exists()) return;
      if (this.folderPoll) clearInterval(this.folderPoll);
      this.folderPoll = null;
      onAppear();
    }, FOLDER_POLL_MS);
  }

  /** From now on nothing is kicked. */
  halt(): void {
    this.halted = true;
  }

  /** Cancels every timer, the folder poll and the cron schedules. */
  async clear(): Promise<void> {
    for (const t of [this.settleTimer, this.policyTimer, this.rescanTimer, this.coolTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.settleTimer = this.policyTimer = this.rescanTimer = this.coolTimer = this.retryTimer = null;
    if (this.folderPoll) clearInterval(this.folderPoll);
    this.folderPoll = null;
    for (const t of this.cronTasks) await t.destroy();
    this.cronTasks = [];
  }
}
