/**
 * The systemd notify protocol (sd_notify(3)) for a `Type=notify` unit: READY=1, RELOADING=1,
 * STOPPING=1, WATCHDOG=1 and STATUS= lines, sent to `$NOTIFY_SOCKET`.
 *
 * Node cannot send unix datagrams, so each message is handed to the `systemd-notify` binary,
 * spawned asynchronously, one at a time and in order (a queue: RELOADING=1 must never overtake the
 * READY=1 before it). `systemd-notify` is run without `--no-block`: since systemd 246 it then sends
 * `BARRIER=1` after the message and waits until the manager has processed both. That matters for
 * attribution: the manager maps a message to a unit through the sender's PID, and a short-lived
 * sender that has already exited cannot be mapped ("Cannot find unit for notify message"), so the
 * message would be dropped. systemd 252's `systemd-notify` sends the message with its parent's PID
 * (ours) in SCM_CREDENTIALS, which only root may do; as any other user the kernel refuses and it
 * falls back to its own PID. Hence the unit needs `NotifyAccess=all` (its PID is not MAINPID), and
 * the barrier keeps that PID alive until the manager has looked at it.
 *
 * With `$NOTIFY_SOCKET` unset (not under systemd) nothing is ever spawned and no timer runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../util/logger.js';

/** How long one `systemd-notify` may take before it is killed (its own barrier timeout is 5 s). */
const SEND_TIMEOUT_MS = 10_000;
/** Messages waiting beyond this are a manager that does not answer: the oldest routine ones go. */
const MAX_QUEUED = 32;

export interface Notifier {
  /** True when `$NOTIFY_SOCKET` is set and messages are sent. */
  readonly enabled: boolean;
  /** The watchdog ping interval in ms (half of `$WATCHDOG_USEC`), or null when there is no watchdog. */
  readonly watchdogMs: number | null;
  /** READY=1 (start-up finished, or a reload finished), with an optional STATUS=. */
  ready(status?: string): void;
  /** RELOADING=1 (with MONOTONIC_USEC=): a reload has begun; `ready()` ends it. */
  reloading(status?: string): void;
  /** STOPPING=1: shutdown has begun. */
  stopping(status?: string): void;
  /** STATUS=text, sent only when it differs from the last status sent. */
  status(text: string): void;
  /**
   * Stops the watchdog and waits until every queued message is delivered, at most `timeoutMs`;
   * then kills a `systemd-notify` still running. Later calls send nothing.
   */
  close(timeoutMs: number): Promise<void>;
}

export interface NotifierOptions {
  logger: Logger;
  /** The program that sends one message (default `systemd-notify`, looked up in PATH). */
  command?: string;
}

/**
 * The watchdog interval asked for by systemd (sd_watchdog_enabled(3)): half of `WATCHDOG_USEC`, in
 * ms, unless `WATCHDOG_PID` names another process. Null when no watchdog is asked for.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A notifier that sends to `env.NOTIFY_SOCKET`, or does nothing at all when it is unset. */
export function createNotifier(env: NodeJS.ProcessEnv, opts: NotifierOptions): Notifier {
  if (!env.NOTIFY_SOCKET) return disabledNotifier;
  return new SystemdNotifier(opts, watchdogIntervalMs(env));
}

const disabledNotifier: Notifier = {
  enabled: false,
  watchdogMs: null,
  ready: () => undefined,
  reloading: () => undefined,
  stopping: () => undefined,
  status: () => undefined,
  close: () => Promise.resolve(),
};

/** Assignments that only refresh liveness or text, which may be merged and dropped under load. */
const isRoutine = (msg: string[]): boolean => msg.every((a) => a === 'WATCHDOG=1' || a.startsWith('STATUS='));

class SystemdNotifier implements Notifier {
  readonly enabled = true;
  private readonly queue: string[][] = [];
  private inFlight: ChildProcess | null = null;
  private lastStatus: string | null = null;
  private closed = false;
  private broken = false;
  private watchdog: NodeJS.Timeout | null = null;
  private drained: (() => void)[] = [];
  private readonly command: string;

  constructor(
    private readonly opts: NotifierOptions,
    readonly watchdogMs: number | null,
  ) {
    this.command = opts.command ?? 'systemd-notify';
    if (watchdogMs !== null) {
      // Pinged from this event loop on purpose: a loop stuck for WatchdogSec gets the unit restarted.
      this.watchdog = setInterval(() => this.push(['WATCHDOG=1']), watchdogMs);
    }
    // A process.exit() (second Ctrl-C) must not leave a systemd-notify behind.
    process.once('exit', () => this.inFlight?.kill('SIGKILL'));
  }

  ready(status?: string): void {
    this.push(['READY=1', ...this.statusAssignment(status)]);
  }

  reloading(status?: string): void {
    // MONOTONIC_USEC (CLOCK_MONOTONIC, which hrtime reads) is what systemd >= 253 asks of a
    // Type=notify-reload service; older managers ignore it.
    this.push(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, ...this.statusAssignment(status)]);
  }

  stopping(status?: string): void {
    this.push(['STOPPING=1', ...this.statusAssignment(status)]);
  }

  status(text: string): void {
    const a = this.statusAssignment(text);
    if (a.length > 0) this.push(a);
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.closed = true;
    if (this.inFlight || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.drained.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.queue.length = 0;
    this.inFlight?.kill('SIGKILL');
  }

  /** `STATUS=text` when the text is new, else nothing (an unchanged status is not re-sent). */
  private statusAssignment(text: string | undefined): string[] {
    if (text === undefined || text === this.lastStatus) return [];
    this.lastStatus = text;
    // One datagram holds newline-separated assignments: a newline would start a bogus one.
    return [`STATUS=${text.replace(/\s*\n\s*/g, '; ')}`];
  }

  private push(msg: string[]): void {
    if (this.broken || (this.closed && isRoutine(msg))) return;
    const last = this.queue[this.queue.length - 1];
    if (last && isRoutine(last) && isRoutine(msg)) {
      // Merge: one datagram with the newest status and at most one watchdog ping.
      const merged = new Set([...last.filter((a) => a === 'WATCHDOG=1'), ...msg.filter((a) => a === 'WATCHDOG=1')]);
      const status = [...msg, ...last].find((a) => a.startsWith('STATUS='));
      this.queue[this.queue.length - 1] = [...merged, ...(status ? [status] : [])];
    } else {
      this.queue.push(msg);
    }
    while (this.queue.length > MAX_QUEUED) {
      const i = this.queue.findIndex(isRoutine);
      this.queue.splice(i >= 0 ? i : 0, 1);
    }
    this.pump();
  }

  private pump(): void {
    if (this.inFlight) return;
    const msg = this.queue.shift();
    if (!msg) {
      for (const d of this.drained.splice(0)) d();
      return;
    }
    const child = spawn(this.command, msg, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.inFlight = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c.slice(0, 1000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), SEND_TIMEOUT_MS);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.inFlight = null;
      this.pump();
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        // Without the binary no message can ever be sent: say so once, loudly, and stop trying.
        this.broken = true;
        this.queue.length = 0;
        this.opts.logger.error(
          `NOTIFY_SOCKET is set but ${this.command} was not found in PATH: systemd will not learn that ckptd is ready (Type=notify) or alive (WatchdogSec=)`,
          { event: 'notify-failed' },
        );
      } else {
        this.opts.logger.warn(`${this.command} ${msg.join(' ')}: ${err.message}`, { event: 'notify-failed' });
      }
      finish();
    });
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        const why = signal ? `killed by ${signal}` : `exit ${code}`;
        this.opts.logger.debug(`${this.command} ${msg.join(' ')}: ${why} ${stderr.trim()}`.trim(), { event: 'notify-failed' });
      }
      finish();
    });
  }
}
