/**
 * Linux's process table, from `/proc`: every process with its parent, and the descendants of a
 * process. Enough to find what a command started through a wrapper (`sh -c`, a script without
 * `exec`). Readers return null where `/proc` is not there (other systems).
 */
import fs from 'node:fs';
import { readProcStat, type ProcStat } from './proc-stat.js';

/** Every process `/proc` lists now, by pid; null without `/proc`. A process that ends while it is read is left out. */
export function readProcessTable(): Map<number, ProcStat> | null {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  const table = new Map<number, ProcStat>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat !== null) table.set(Number(name), stat);
  }
  return table;
}

/** Pure: the pids of every descendant of `roots` in `table` (children, their children, ...), roots left out. */
export function descendantsIn(table: ReadonlyMap<number, Pick<ProcStat, 'ppid'>>, roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const found = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (found.has(child) || roots.includes(child)) continue;
      found.add(child);
      queue.push(child);
    }
  }
  return [...found];
}

/** True for a process that has ended but not been reaped (`Z`), or is dying (`X`). */
export function hasEnded(stat: Pick<ProcStat, 'state'>): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** `pid`'s command line as words joined by spaces, at most `max` characters; null when unreadable. */
export function readCommandLine(pid: number, max = 120): string | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\0').filter((w) => w !== '').join(' ');
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}
