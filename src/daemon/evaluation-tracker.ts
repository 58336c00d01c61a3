/**
 * Follows one run's policy evaluations in a running `Daemon` through the lines its supervisor logs
 * (see `util/tap-logger.ts`), so `ckptd run` can wait until the trainer's final state has been
 * evaluated, and captured if a policy wanted it, before it stops the daemon. It relies on the
 * supervisor's events: `decision` (an action is about to be taken), `evaluated` (with the state's
 * `digest`, after every action of that evaluation) and `error`.
 */
import type { LogFields } from '../util/logger.js';
import type { LogLevelName, LogListener } from '../util/tap-logger.js';

/** Digests remembered: enough for any final state, bounded for runs that evaluate for weeks. */
const REMEMBER = 1000;

/** How a wait for an evaluation ended. */
export type EvaluationWait = 'evaluated' | 'timeout' | 'aborted';

export class EvaluationTracker {
  private readonly evaluated = new Set<string>();
  /** An evaluation decided to take a backup or save and has not reported `evaluated` yet. */
  private working = false;
  private readonly changes: (() => void)[] = [];

  constructor(private readonly runName: string) {}

  /** Pass this to `tapLogger`. */
  readonly listener: LogListener = (_level: LogLevelName, _message: string, fields: LogFields): void => {
    if (fields.run !== this.runName) return;
    if (fields.event === 'evaluated' && typeof fields.digest === 'string') {
      this.evaluated.delete(fields.digest);
      this.evaluated.add(fields.digest);
      // A Set iterates in insertion order: the first one is the oldest.
      if (this.evaluated.size > REMEMBER) this.evaluated.delete(this.evaluated.values().next().value!);
      this.working = false;
    } else if (fields.event === 'decision' && fields.action !== 'skip') {
      this.working = true;
    } else if (fields.event === 'error') {
      // A failed evaluation retries much later; whatever it was doing is over.
      this.working = false;
    } else return;
    for (const notify of this.changes.splice(0)) notify();
  };

  /** True once the daemon has finished evaluating a state with this digest. */
  hasEvaluated(digest: string): boolean {
    return this.evaluated.has(digest);
  }

  /**
   * Resolves `evaluated` once the state `digest` has been evaluated (at once if it was already),
   * `aborted` when `signal` aborts, and `timeout` after `quietMs` without that evaluation. The
   * timeout does not run while the daemon is taking a backup or save, however long that takes:
   * a large state may take minutes to copy, and stopping the daemon then would abandon it.
   */
  waitFor(digest: string, quietMs: number, signal: AbortSignal): Promise<EvaluationWait> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      let over = false;
      const done = (how: EvaluationWait): void => {
        over = true;
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(how);
      };
      const onAbort = (): void => done('aborted');
      const check = (): void => {
        if (over) return;
        if (this.evaluated.has(digest)) return done('evaluated');
        if (signal.aborted) return done('aborted');
        if (timer) clearTimeout(timer);
        timer = this.working ? null : setTimeout(() => done('timeout'), quietMs);
        this.changes.push(check);
      };
      signal.addEventListener('abort', onAbort);
      check();
    });
  }
}
