/**
 * Whether the process that recorded itself as a store's lock holder is still that same process.
 * A pid alone is not enough: pids are reused, and an exited child that nobody reaped (a zombie)
 * still has one.
 */
import os from 'node:os';
import { pidExists, readBootId, readPidNamespace, readProcStat } from '../util/proc-stat.js';

/** What a holder records about itself at acquire, to be recognised (or found dead) later. */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** `/proc/sys/kernel/random/boot_id` when it was recorded; null where there is no `/proc`. */
  boot_id: string | null;
  /** Start time of `pid` in clock ticks after boot (`/proc/<pid>/stat` field 22); null without `/proc`. */
  start_ticks: string | null;
  /** Its PID namespace (`/proc/self/ns/pid`); null where unknown (no `/proc`, a record of an older ckptd). */
  pid_ns?: string | null;
}

/** This process's identity. */
export function selfIdentity(): ProcessIdentity {
  return { pid: process.pid, host: os.hostname(), boot_id: readBootId(), start_ticks: readProcStat('self')?.startTicks ?? null, pid_ns: readPidNamespace() };
}

/**
 * True when `who`'s pid can be looked up here: it is of this host and of this PID namespace (or
 * either namespace is unknown). A process in another container with the same host name (`docker
 * run --network host`) recorded a pid of its own namespace: here it is no process, or another one.
 */
export function judgedByPid(who: ProcessIdentity): boolean {
  if (who.host !== os.hostname()) return false;
  const mine = readPidNamespace();
  return who.pid_ns == null || mine === null || who.pid_ns === mine;
}

/**
 * True when `who` is a process of this host that no longer runs: its pid does not exist, or the
 * machine rebooted since (another boot id), or the pid now belongs to a process started at another
 * time (a reused pid), or it is a zombie (state `Z`: it has exited). False for a process of
 * another host or PID namespace (`judgedByPid`: this process cannot tell) and whenever the facts
 * are missing (no `/proc`: pid only).
 */
export function isDeadOnThisHost(who: ProcessIdentity): boolean {
  if (!judgedByPid(who)) return false;
  if (!pidExists(who.pid)) return true;
  const boot = readBootId();
  if (who.boot_id !== null && boot !== null && who.boot_id !== boot) return true;
  const stat = readProcStat(who.pid);
  // No /proc (other systems), or the process went away a moment ago.
  if (stat === null) return !pidExists(who.pid);
  if (stat.state === 'Z' || stat.state === 'X') return true;
  return who.start_ticks !== null && stat.startTicks !== who.start_ticks;
}
