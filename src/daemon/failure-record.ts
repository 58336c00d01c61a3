/**
 * Keeps `<store>/last-failure.json` (`store/failure-note.ts`) for one run: each failed backup,
 * save or evaluation adds an attempt; the next backup or save that succeeds removes it. A record
 * of failed evaluations alone also ends with the next evaluation that completes; once a backup or
 * save has failed, only a backup or save that succeeds ends it (an evaluation that completes
 * without taking one proves nothing about them); a condition that ends by itself (the run folder
 * back in place) ends a record of its own kind (`cleared`). So `ckptd status` can say the backups are
 * failing while they are, not only the daemon's log.
 *
 * Contract: never throws and never delays a backup for its bookkeeping: a write that fails (the
 * very full disk or read-only store that failed the backup) is logged once, and the next change
 * is written again. Writes are made one at a time, in order.
 */
import { writeFailureNote, type FailureNote } from '../store/failure-note.js';
import type { Logger } from '../util/logger.js';

export class FailureRecord {
  private note: FailureNote | null = null;
  /** A backup or save failed since the last one that succeeded: `note` is not only about evaluations. */
  private actionFailed = false;
  /** The note on disk may be stale: a write failed, or the file a previous daemon left is still there. */
  private unsure = true;
  private warned = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly storeOf: () => string,
    private readonly logger: Logger,
  ) {}

  /** One more failed attempt of `kind` at `now`; retried `retryMs` later (null: not by itself). */
  failed(kind: string, message: string, now: number, retryMs: number | null): Promise<void> {
    const at = new Date(now).toISOString();
    if (kind !== 'evaluation') this.actionFailed = true;
    this.note = {
      since: this.note?.since ?? at,
      at,
      attempts: (this.note?.attempts ?? 0) + 1,
      kind,
      message,
      retrying_at: retryMs === null ? null : new Date(now + retryMs).toISOString(),
    };
    return this.write();
  }

  /** A backup or save succeeded: no failure stands. */
  succeeded(): Promise<void> {
    if (this.note === null && !this.unsure) return Promise.resolve();
    this.note = null;
    this.actionFailed = false;
    return this.write();
  }

  /** The condition of failures of `kind` is over (not by a backup or save): the note goes if it is of that kind. */
  cleared(kind: string): Promise<void> {
    return this.note?.kind === kind ? this.succeeded() : Promise.resolve();
  }

  /** An evaluation completed: failures of evaluations alone no longer stand (a failed backup or save still does). */
  evaluated(): Promise<void> {
    return this.note !== null && !this.actionFailed ? this.succeeded() : Promise.resolve();
  }

  private write(): Promise<void> {
    const note = this.note;
    this.writing = this.writing.then(async () => {
      try {
        await writeFailureNote(this.storeOf(), note);
        this.unsure = false;
        this.warned = false;
      } catch (err) {
        this.unsure = true;
        if (!this.warned) this.logger.warn(`could not record the failure for \`ckptd status\`: ${(err as Error).message}`, { event: 'failure-note-unsaved' });
        this.warned = true;
      }
    });
    return this.writing;
  }
}
