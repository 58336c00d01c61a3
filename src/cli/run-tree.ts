/**
 * The processes of a `ckptd run` trainer: CMD and everything it started. CMD is often a wrapper
 * (`sh -c 'python train.py; echo done'`, a script without `exec`) whose child is the real trainer,
 * so a signal must reach the whole tree, and `ckptd run` is over only when the whole tree is.
 *
 * Every process seen under CMD is remembered by pid and start time (a pid is reused after its
 * process ends; the pair is not): a trainer whose wrapper died is handed to another parent and is
 * no longer CMD's descendant, yet stays known. Processes are seen when `current()` reads `/proc`
 * (at each signal, and while `follow()` runs: every second for `FOLLOW_FAST_READS` reads, while a
 * wrapper starts its trainer, then every `FOLLOW_EVERY_MS`), so one started and orphaned between
 * two reads is missed. Without `/proc`, the tree is CMD alone.
 */
import type { ChildProcess } from 'node:child_process';
import type { TreeEntry } from '../ops/session.js';
import type { Logger } from '../util/logger.js';
import { readProcStat } from '../util/proc-stat.js';
import { descendantsIn, hasEnded, readCommandLine, readProcessTable } from '../util/proc-tree.js';

/**
 * How often the tree is read while CMD runs, to remember what it starts: every second at first,
 * when a wrapper starts its trainer, then every 10 s. A read is one `stat` file per process on the
 * machine (~10 ms for 100 processes here): every second for a days-long training, on a machine
 * with hundreds of processes, would take a few percent of a core from the trainer.
 */
export const FOLLOW_EVERY_MS = 10_000;
const FOLLOW_FAST_MS = 1000;
const FOLLOW_FAST_READS = 30;
/** How often, after CMD exited, ckptd looks whether the processes it started have ended. */
const ENDED_EVERY_MS = 250;
/** Of those looks, every how many reads the whole process table (see `ended`). */
const ENDED_FULL_EVERY = 8;

/** A live process of the tree; `pgrp` null where unknown (no `/proc`). */
export interface TreeProcess {
  pid: number;
  pgrp: number | null;
}

export class TrainerTree {
  /** pid -> start ticks of every process seen in the tree and not yet seen ended, CMD first. */
  private readonly seen = new Map<number, string>();
  private timer: NodeJS.Timeout | null = null;
  private following = false;
  /**
   * Told, with `known()`, each time a read finds processes not seen before: the session record
   * names them, for a `ckptd run` started after this one is killed (`previousTrainerAlive`).
   */
  onSeen: (known: TreeEntry[]) => void = () => undefined;

  constructor(
    private readonly cmd: ChildProcess,
    private readonly log: Logger,
  ) {
    const ticks = cmd.pid === undefined ? undefined : readProcStat(cmd.pid)?.startTicks;
    if (ticks !== undefined) this.seen.set(cmd.pid!, ticks);
  }

  /**
   * Reads `/proc` now: the top processes of the tree as it lives (of each remembered one still
   * running, and every descendant of those, the ones whose parent is not among them: CMD while it
   * runs; after a wrapper died, what it left), newly seen ones remembered and logged
   * (`trainer-processes`). Without `/proc`: CMD while it runs.
   */
  current(): TreeProcess[] {
    const table = readProcessTable();
    if (table === null) return this.cmd.exitCode === null && this.cmd.signalCode === null && this.cmd.pid !== undefined ? [{ pid: this.cmd.pid, pgrp: null }] : [];
    const roots = [...this.seen].filter(([pid, ticks]) => {
      const stat = table.get(pid);
      return stat !== undefined && stat.startTicks === ticks && !hasEnded(stat);
    });
    const rootPids = roots.map(([pid]) => pid);
    // An ended process never comes back (its pid may, with another start time): forgotten, so that
    // a trainer starting short-lived helpers all week does not leave a growing list to look at.
    for (const pid of [...this.seen.keys()]) if (!rootPids.includes(pid)) this.seen.delete(pid);
    const added = descendantsIn(table, rootPids).filter((pid) => !hasEnded(table.get(pid)!));
    const fresh = added.filter((pid) => this.seen.get(pid) !== table.get(pid)!.startTicks);
    for (const pid of fresh) this.seen.set(pid, table.get(pid)!.startTicks);
    if (fresh.length > 0) {
      this.log.debug(`the trainer's command started ${describe(fresh)}`, { event: 'trainer-processes', pids: fresh });
      this.onSeen(this.known());
    }
    // Only the top of the tree: a signal for the trainer goes to the process that leads it (CMD,
    // or what a dead wrapper left), which passes it on to its workers as it sees fit. Signalled
    // directly, a data loader's workers die while their trainer checkpoints, and it fails.
    const live = new Set([...rootPids, ...added]);
    return [...live].filter((pid) => !live.has(table.get(pid)!.ppid)).map((pid) => ({ pid, pgrp: table.get(pid)!.pgrp }));
  }

  /** The processes seen in the tree, CMD's included, and not yet seen ended (as of the last read). */
  known(): TreeEntry[] {
    return [...this.seen].map(([pid, ticks]) => ({ pid, start_ticks: ticks }));
  }

  /** Reads the tree now and then (see `FOLLOW_EVERY_MS`), so that processes CMD starts are known, until `stop()`. */
  follow(): void {
    if (this.following) return;
    this.following = true;
    const next = (reads: number): void => {
      this.timer = setTimeout(
        () => {
          this.current();
          if (this.following) next(reads + 1);
        },
        reads < FOLLOW_FAST_READS ? FOLLOW_FAST_MS : FOLLOW_EVERY_MS,
      ).unref();
    };
    next(0);
  }

  stop(): void {
    this.following = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * After CMD was killed by a signal, or ckptd was asked to stop: resolves once every process it
   * started has ended. Those still running are logged once (`trainer-outlived`): a trainer whose
   * wrapper died, or that is still checkpointing on the signal, is still writing the run.
   */
  async ended(cmdEnd: string): Promise<void> {
    let left = this.current();
    if (left.length === 0) return;
    const pids = left.map((p) => p.pid);
    this.log.info(
      `${cmdEnd}, but ${describe(pids)} it started still run${pids.length === 1 ? 's' : ''}: ` +
        'ckptd keeps backing up the run until they end (a SIGINT, SIGTERM or SIGHUP sent to ckptd reaches them)',
      { event: 'trainer-outlived', pids },
    );
    // While a remembered process still runs, its own stat file tells (a trainer checkpointing on
    // the signal may take minutes; a read of the whole table each time would take a share of a
    // core from it); the whole table is read every `ENDED_FULL_EVERY` looks for what they start,
    // and whenever none is left, to be sure nothing they started is.
    for (let looks = 1; left.length > 0; looks++) {
      await new Promise((r) => setTimeout(r, ENDED_EVERY_MS));
      left = looks % ENDED_FULL_EVERY !== 0 && this.rememberedRuns() ? left : this.current();
    }
  }

  /** True while a remembered process (pid and start time) runs: one stat file per remembered process. */
  private rememberedRuns(): boolean {
    for (const [pid, ticks] of this.seen) {
      const stat = readProcStat(pid);
      if (stat !== null && stat.startTicks === ticks && !hasEnded(stat)) return true;
    }
    return false;
  }

  /**
   * After CMD exited on its own, unasked: what it left in the background (`tensorboard &`) was
   * meant to outlive it, so it is named (`trainer-left-running`), not waited for and not signalled.
   * Returns them as people read them ("pid 12 (python train.py)"); none: an empty string.
   */
  leftRunning(cmdEnd: string): string {
    const pids = this.current().map((p) => p.pid);
    if (pids.length === 0) return '';
    const named = describe(pids);
    this.log.info(`${cmdEnd} and left ${named} running: not waiting for ${pids.length === 1 ? 'it' : 'them'}`, { event: 'trainer-left-running', pids });
    return named;
  }
}

/** "pid 12 (python train.py), pid 13 (...)": processes for people. */
function describe(pids: readonly number[]): string {
  return pids.map((pid) => `pid ${pid} (${readCommandLine(pid) ?? '?'})`).join(', ');
}
