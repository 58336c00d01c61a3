/**
 * What Linux says about a process in `/proc/<pid>/stat`, and the machine's boot id: enough to tell
 * whether a process recorded earlier is still the same process (pids are reused), and whether a
 * signal from the terminal already reached a child. Every reader returns null where `/proc` is not
 * there (other systems) or the process is gone.
 */
import fs from 'node:fs';

/** The fields of `/proc/<pid>/stat` ckptd uses. */
export interface ProcStat {
  /** Field 3: `R` running, `S` sleeping, `Z` zombie (exited, not yet reaped), `X` dead, ... */
  state: string;
  /** Field 4: the parent's pid. */
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** Foreground process group of the process's controlling terminal; -1 without a terminal. */
  tpgid: number;
  /** Start time in clock ticks after boot, as text: with the boot id, it tells a reused pid apart. */
  startTicks: string;
  /** Field 19: the nice value of the process's main thread (-20 to 19). */
  nice: number;
}

/** `/proc/<pid>/stat` of `pid` (or `self`), or null when unreadable. */
export function readProcStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const state = rest[0] ?? '';
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const tpgid = Number(rest[5]);
  const startTicks = rest[19];
  const nice = Number(rest[16]);
  if (!Number.isInteger(ppid) || !Number.isInteger(pgrp) || !Number.isInteger(tpgid) || !Number.isInteger(nice) || startTicks === undefined || !/^\d+$/.test(startTicks)) return null;
  return { state, ppid, pgrp, tpgid, startTicks, nice };
}

/**
 * This process's PID namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`), or null when
 * unreadable. Pids of processes in different namespaces (containers) mean different processes.
 */
export function readPidNamespace(): string | null {
  try {
    return fs.readlinkSync('/proc/self/ns/pid') || null;
  } catch {
    return null;
  }
}

/** This boot's id (`/proc/sys/kernel/random/boot_id`), or null when unreadable. */
export function readBootId(): string | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
