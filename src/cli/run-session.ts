/**
 * The session record of a running `ckptd run`, kept up to date in its store while CMD runs: the
 * processes of the trainer's tree are added as they are seen (`TrainerTree.onSeen`), so that a
 * `ckptd run` started after this one was killed (SIGKILL, a crash of ckptd alone) still finds a
 * trainer that a dead wrapper left running, and refuses to restore or start under it.
 */
import type { SessionRecord, TreeEntry } from '../ops/session.js';
import { writeSession } from '../store/session-file.js';
import type { Logger } from '../util/logger.js';

/** At most this many processes are recorded (the first seen, CMD and its trainer, are kept). */
const MAX_TREE = 200;

export class SessionRecorder {
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  /** `record` as already written to `store` when CMD started. */
  constructor(
    private readonly store: string,
    private record: SessionRecord,
    private readonly log: Logger,
  ) {}

  /**
   * Records `tree` as the trainer's processes: written after any write still under way, never
   * after `close`. A failed write is logged; the run goes on (the record keeps what it had).
   */
  tree(tree: TreeEntry[]): void {
    if (this.closed) return;
    const record: SessionRecord = { ...this.record, trainer_tree: tree.slice(0, MAX_TREE) };
    this.record = record;
    this.writes = this.writes
      .then(() => writeSession(this.store, record))
      .catch((err: unknown) => this.log.warn(`could not record the trainer's processes in ${this.store}: ${(err as Error).message}`, { event: 'error' }));
  }

  /** Resolves once every write so far is done (`tree` ones started before). */
  flushed(): Promise<void> {
    return this.writes;
  }

  /** Stops recording and resolves with the record as last written, for the one that concludes it. */
  async close(): Promise<SessionRecord> {
    this.closed = true;
    await this.writes;
    return this.record;
  }
}
