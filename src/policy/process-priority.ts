/**
 * Which priority the daemon's process takes. Pure: the shell (`daemon/process-priority.ts`) applies
 * it to the process's threads.
 */

/** `low`: behind the trainer for CPU and disk; `normal`: as the system gives any process. */
export type Priority = 'low' | 'normal';

/**
 * The nice value of a daemon at `low` priority: the lowest, as `nice -n 19` backups usually run.
 * Beside a trainer (nice 0) on every core it gets about 1.5% of a busy CPU and whatever the trainer
 * leaves idle. `npm run bench -- slowdown` measured nice 10 too: the trainer's median step was 8%
 * slower beside it against 2% at 19, with as many backups taken (docs/BENCHMARKS.md).
 */
export const LOW_NICE = 19;

/**
 * The priority of one daemon serving `runs`: `normal` when any run asks for it, else `low`. A
 * process has one priority, and a person who wrote `priority: normal` wants that run's backups fast
 * whatever the other runs say; `low` is only a default. No runs: `low`.
 */
export function processPriority(runs: readonly { priority: Priority }[]): Priority {
  return runs.some((r) => r.priority === 'normal') ? 'normal' : 'low';
}
