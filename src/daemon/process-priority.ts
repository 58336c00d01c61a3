/**
 * Puts the daemon's process at the priority its config asks for (`policy/process-priority.ts`): at
 * `low`, every thread at nice `LOW_NICE` and in the best-effort IO class at its lowest level (7);
 * at `normal`, nice 0 and the IO class that follows the nice value.
 *
 * On Linux a nice value and an IO priority belong to a thread, and a new thread takes its creator's,
 * so every thread that exists is set (the main thread, the file system thread pool, V8's helpers)
 * and the ones created later (hash workers) inherit from the main thread. Best-effort 7 rather than
 * the idle class: an idle-class reader can wait forever behind a data loader that never stops
 * reading, and a backup must end. Lowering is always allowed; returning to `normal` needs
 * CAP_SYS_NICE, and when it is refused the outcome says so (the daemon stays low until restarted).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { LOW_NICE, type Priority } from '../policy/process-priority.js';

/** What applying a priority did. */
export interface PriorityOutcome {
  priority: Priority;
  /** What could not be done, each with its reason and fix; empty when all went through. */
  problems: string[];
}

/** The IO classes of `ionice` arguments: best-effort at its lowest level, or `none` (follows the nice value). */
const IONICE_ARGS: Record<Priority, string[]> = { low: ['-c', '2', '-n', '7'], normal: ['-c', '0'] };

/** Sets every thread of this process to `priority`. Never rejects. */
export async function applyProcessPriority(priority: Priority): Promise<PriorityOutcome> {
  const problems: string[] = [];
  const nice = priority === 'low' ? LOW_NICE : 0;
  let refused: NodeJS.ErrnoException | null = null;
  for (const tid of threadIds()) {
    try {
      os.setPriority(tid, nice);
    } catch (err) {
      // ESRCH: the thread ended meanwhile.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') refused ??= err as NodeJS.ErrnoException;
    }
  }
  if (refused) {
    problems.push(
      priority === 'normal'
        ? `could not return to CPU priority normal (nice 0): ${refused.message}; a process may lower its own priority but not raise it back without CAP_SYS_NICE: restart the daemon`
        : `could not lower the CPU priority to nice ${nice}: ${refused.message}`,
    );
  }
  const io = await setIoPriority(priority);
  if (io) problems.push(io);
  return { priority, problems };
}

/** This process's thread ids (`/proc/self/task`); just the process id where `/proc` is not there. */
function threadIds(): number[] {
  try {
    return fs
      .readdirSync('/proc/self/task')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [process.pid];
  }
}

/**
 * Runs `ionice` (util-linux: Node has no call for ioprio_set) on every thread; a thread that ended
 * between the listing and the call makes `ionice` stop, hence one retry on a fresh listing.
 * Resolves to a problem text, or null.
 */
async function setIoPriority(priority: Priority): Promise<string | null> {
  let last: string | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await run('ionice', [...IONICE_ARGS[priority], '-p', ...threadIds().map(String)]);
    if (r.code === 0) return null;
    if (r.missing) return 'ionice (util-linux) was not found: the IO priority stays as it was (install util-linux to let backups yield the disk)';
    last = r.output.trim() || `exit code ${r.code}`;
  }
  return `could not set the IO priority (${IONICE_ARGS[priority].join(' ')}): ${last}`;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; missing: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, missing: e?.code === 'ENOENT', output: `${stdout}${stderr}` });
    });
  });
}

/** A process's priority as Linux reports it: its main thread's nice value and `ionice -p` line. */
export interface ProcessPriority {
  nice: number | null;
  /** As `ionice` prints it, e.g. `best-effort: prio 7`; null when unknown. */
  io: string | null;
}

/** What `pid` runs at now, read from `/proc/<pid>/stat` (field 19) and `ionice -p`. Never rejects. */
export async function readProcessPriority(pid: number): Promise<ProcessPriority> {
  let nice: number | null = null;
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: field N is at index N - 3.
    const n = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[16]);
    nice = Number.isInteger(n) ? n : null;
  } catch {
    nice = null;
  }
  const r = await run('ionice', ['-p', String(pid)]);
  return { nice, io: r.code === 0 ? r.output.trim() || null : null };
}

/**
 * What a status should say about a daemon running at `actual` when its config asks for `wanted`;
 * null when the two agree (or the nice value is unknown).
 */
export function priorityMismatch(wanted: Priority, actual: ProcessPriority): string | null {
  if (actual.nice === null) return null;
  if (wanted === 'low' && actual.nice < LOW_NICE) {
    return `the daemon runs at nice ${actual.nice}, not at priority low (nice ${LOW_NICE}): restart it to let the trainer come first`;
  }
  if (wanted === 'normal' && actual.nice > 0) {
    return `the daemon still runs at nice ${actual.nice} though priority: normal asks for 0: it cannot raise its own priority back without CAP_SYS_NICE; restart it`;
  }
  return null;
}
