/**
 * Signals sent to `ckptd run` (SIGINT, SIGTERM, SIGHUP) reach the trainer exactly once: the top of
 * its process tree (`TrainerTree`: CMD while it runs; after a wrapper died of the signal, the
 * trainer it left running, by `reachLeftovers`), never the trainer's own workers, which it signals
 * as it sees fit. A Ctrl-C typed
 * in the terminal already reached the processes in ckptd's process group directly: ckptd passes a
 * SIGINT on only to those it cannot have reached (no terminal, ckptd in the background, or the
 * process in a group of its own), and ignores a repeat of a signal within a second (a wrapper such
 * as npm passing on what the whole group already got). ckptd itself never exits on these signals
 * while the trainer runs: it waits for the trainer, then wraps up.
 */
import type { Logger } from '../util/logger.js';
import { readProcStat } from '../util/proc-stat.js';
import type { TreeProcess } from './run-tree.js';

/** The signals `ckptd run` passes on. */
export const RELAYED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type RelayedSignal = (typeof RELAYED_SIGNALS)[number];

/** A repeat of the same signal this soon is the same event delivered twice. */
export const SAME_SIGNAL_WINDOW_MS = 1000;

/** What decides whether a signal ckptd received is passed on to the trainer. */
export interface SignalFacts {
  signal: RelayedSignal;
  /** Milliseconds since ckptd last received this signal (Infinity: never). */
  sinceSame: number;
  /** ckptd is in the foreground process group of its controlling terminal (so Ctrl-C reached that group). */
  foreground: boolean;
  /** The process it would be passed on to is in ckptd's process group. */
  sameGroup: boolean;
}

/** Pure: pass the signal on or not, and why (for the log). */
export function relayDecision(f: SignalFacts): { forward: boolean; why: string } {
  if (f.sinceSame < SAME_SIGNAL_WINDOW_MS) {
    return { forward: false, why: `a second ${f.signal} within ${SAME_SIGNAL_WINDOW_MS}ms is the same one delivered twice` };
  }
  if (f.signal === 'SIGINT' && f.foreground && f.sameGroup) {
    return { forward: false, why: 'it came from the terminal, which delivered it to the trainer too' };
  }
  return { forward: true, why: 'passed on' };
}

/** The trainer's processes, read at the moment a signal arrives (`TrainerTree`). */
export interface SignalTargets {
  current(): TreeProcess[];
}

/** Where `ckptd run` is with its trainer when a signal arrives. */
type Phase = 'before-start' | 'running' | 'after-exit';

/**
 * Installs handlers for `RELAYED_SIGNALS` on this process until `dispose()`. Before the trainer
 * starts, a signal means "do not start it" (`stopRequested`); while it runs, signals are passed on
 * per `relayDecision` and each marks the run as stopped (`stoppedBy`); after it exited,
 * they cut the wrap-up short (`wrapUp` aborts).
 */
export class SignalRelay {
  private phase: Phase = 'before-start';
  private trainer: SignalTargets | null = null;
  private readonly lastAt = new Map<RelayedSignal, number>();
  private readonly handlers = new Map<RelayedSignal, () => void>();
  private readonly abort = new AbortController();
  /** The first signal received before the trainer started, or null. */
  stopRequested: RelayedSignal | null = null;
  /** Processes a relayed signal was passed on to, or kept from, so far (`reachLeftovers` skips them). */
  private readonly decided = new Set<number>();
  /** The first signal received while the trainer ran, or null. */
  stoppedBy: RelayedSignal | null = null;

  constructor(private readonly logger: Logger) {}

  /** Aborts when a signal arrives after the trainer exited. */
  get wrapUp(): AbortSignal {
    return this.abort.signal;
  }

  install(): void {
    for (const s of RELAYED_SIGNALS) {
      const h = (): void => this.receive(s);
      this.handlers.set(s, h);
      process.on(s, h);
    }
  }

  dispose(): void {
    for (const [s, h] of this.handlers) process.off(s, h);
    this.handlers.clear();
  }

  /** From now on, signals go to the processes of `trainer`. */
  attach(trainer: SignalTargets): void {
    this.trainer = trainer;
    this.phase = 'running';
  }

  /** The trainer (every process of it) exited: later signals cut the wrap-up short. */
  trainerExited(): void {
    this.phase = 'after-exit';
  }

  private receive(signal: RelayedSignal): void {
    const now = Date.now();
    const sinceSame = now - (this.lastAt.get(signal) ?? -Infinity);
    this.lastAt.set(signal, now);
    if (this.phase === 'before-start') {
      this.stopRequested ??= signal;
      this.logger.warn(`${signal} received before the trainer started: not starting it`, { event: 'signal', signal });
      return;
    }
    if (this.phase === 'after-exit') {
      if (!this.abort.signal.aborted) this.logger.warn(`${signal} received: cutting the wrap-up short`, { event: 'signal', signal });
      this.abort.abort();
      return;
    }
    // SIGHUP too: ckptd run reloads nothing on it, and a trainer that checkpoints and exits 0 on a
    // hung-up terminal stopped mid-training; counted as finished, delete_on_finish would take its backups.
    this.stoppedBy ??= signal;
    this.relay(signal, sinceSame);
  }

  /**
   * After CMD ended while ckptd was asked to stop: what it left running (a wrapper died of the
   * signal, its trainer lives on, orphaned) gets that signal too, once, by the same rules; a process
   * it was already passed on to, or decided for, is not sent it again.
   */
  reachLeftovers(): void {
    if (this.stoppedBy !== null) this.relay(this.stoppedBy, Infinity, true);
  }

  private relay(signal: RelayedSignal, sinceSame: number, onlyNew = false): void {
    const self = readProcStat('self');
    // Without /proc, a terminal on stdin is the best sign that Ctrl-C reached the whole group.
    const foreground = self ? self.tpgid > 0 && self.tpgid === self.pgrp : process.stdin.isTTY === true;
    const passed: number[] = [];
    const kept = new Map<string, number[]>();
    for (const p of this.trainer!.current()) {
      if (onlyNew && this.decided.has(p.pid)) continue;
      this.decided.add(p.pid);
      const decision = relayDecision({ signal, sinceSame, foreground, sameGroup: self && p.pgrp !== null ? self.pgrp === p.pgrp : true });
      if (!decision.forward) kept.set(decision.why, [...(kept.get(decision.why) ?? []), p.pid]);
      else if (this.pass(signal, p.pid)) passed.push(p.pid);
    }
    const said = [
      ...(passed.length > 0 ? [`passed on to the trainer (pid ${passed.join(', ')})`] : []),
      ...[...kept].map(([why, pids]) => `not passed on to pid ${pids.join(', ')}: ${why}`),
    ];
    this.logger.info(`${signal} received: ${said.join('; ') || 'no process of the trainer is left to pass it on to'}`, {
      event: 'signal',
      signal,
      forwarded: passed.length > 0,
      pids: passed,
    });
  }

  /** Sends `signal` to `pid`; false (logged unless the process is already gone) when it cannot. */
  private pass(signal: RelayedSignal, pid: number): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
        this.logger.warn(`could not pass ${signal} on to the trainer (pid ${pid}): ${(err as Error).message}`, { event: 'signal', signal });
      }
      return false;
    }
  }
}
