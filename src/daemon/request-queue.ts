/**
 * What front ends asked one run's supervisor to do, held until its next turn: the store has one
 * writer, so requests are queued, not run as they arrive.
 *
 * Contract:
 * - `accept` logs the request (`request`), queues it, calls `onQueued`, and resolves with its reply
 *   once the supervisor has served it; every accepted request is answered exactly once.
 * - Store operations (delete, restore, labels) are served by `serveOps`, in arrival order, each
 *   through the given executor; a failure is logged (`op-failed`) and replied with the error's exit
 *   code (a `CkptdError`'s, else 1) and does not stop the ones after it.
 * - Backups (`backup-now`) and manual snapshots wait for a settled state: `takeSnapshotRequests`
 *   hands them over, `failSnapshotRequests` answers them with an error; `failAll` answers
 *   everything still queued (the daemon is stopping).
 */
import type { OpOutcome, StoreOp } from '../ops/types.js';
import { CkptdError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { DaemonReply, DaemonRequest } from './requests.js';

export type Waiter = (reply: DaemonReply) => void;
export type OpProgress = (done: number, total: number) => void;

export interface ManualRequest {
  name: string | null;
  notes: string | null;
  pinned: boolean;
  reply: Waiter;
}

interface OpRequest {
  op: StoreOp;
  reply: Waiter;
  progress: OpProgress;
  /** False once its sender gave up (a timeout): a queued operation is then not carried out. */
  wanted: () => boolean;
}

export class RequestQueue {
  private backupNow: Waiter[] = [];
  private manual: ManualRequest[] = [];
  private ops: OpRequest[] = [];
  /** Operations served as they arrive, beside the snapshot work (see `serveAtOnce`). */
  private atOnce: { pred: (op: StoreOp) => boolean; execute: (op: StoreOp, progress: OpProgress) => Promise<OpOutcome> } | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly onQueued: () => void,
  ) {}

  accept(req: DaemonRequest, progress: OpProgress, wanted: () => boolean = () => true): Promise<DaemonReply> {
    return new Promise((resolve) => {
      if (req.type === 'op') {
        this.logger.info(`${req.op.kind} requested`, { event: 'request', op: req.op.kind });
        if (this.atOnce?.pred(req.op)) {
          void this.serve({ op: req.op, reply: resolve, progress, wanted }, this.atOnce.execute);
          return;
        }
        this.ops.push({ op: req.op, reply: resolve, progress, wanted });
      } else if (req.type === 'backup-now') {
        this.logger.info('backup requested (backup-now); taking it at the next settled moment', { event: 'request' });
        this.backupNow.push(resolve);
      } else {
        this.logger.info(`manual snapshot requested${req.name ? ` ("${req.name}")` : ''}`, { event: 'request' });
        this.manual.push({ name: req.name, notes: req.notes, pinned: req.pinned, reply: resolve });
      }
      this.onQueued();
    });
  }

  /** True while a backup-now or manual snapshot waits: the next settled state must be acted on. */
  get snapshotsWaiting(): boolean {
    return this.backupNow.length > 0 || this.manual.length > 0;
  }

  /** Hands over the waiting backup-now and manual requests; the caller answers them. */
  takeSnapshotRequests(): { backupNow: Waiter[]; manual: ManualRequest[] } {
    return { backupNow: this.backupNow.splice(0), manual: this.manual.splice(0) };
  }

  /** Answers the waiting backup-now and manual requests with `error`. */
  failSnapshotRequests(error: string): void {
    for (const w of this.backupNow.splice(0)) w({ ok: false, error, exitCode: 1 });
    for (const m of this.manual.splice(0)) m.reply({ ok: false, error, exitCode: 1 });
  }

  /** Answers everything still queued with `error`, operations included. */
  failAll(error: string): void {
    for (const w of this.backupNow) w({ ok: false, error, exitCode: 1 });
    for (const m of this.manual) m.reply({ ok: false, error, exitCode: 1 });
    for (const o of this.ops) o.reply({ ok: false, error, exitCode: 1 });
  }

  /**
   * Operations for which `pred` holds are served by `execute` as soon as they arrive, beside the
   * snapshot work instead of between evaluations: a push or a remote deletion writes nothing of the
   * local store but the push queue (serialized on its own) and may take hours, which must not hold
   * up a backup.
   */
  serveAtOnce(pred: (op: StoreOp) => boolean, execute: (op: StoreOp, progress: OpProgress) => Promise<OpOutcome>): void {
    this.atOnce = { pred, execute };
  }

  /** Serves the queued store operations in order; `execute` runs one and returns its outcome. */
  async serveOps(execute: (op: StoreOp, progress: OpProgress) => Promise<OpOutcome>): Promise<void> {
    for (const req of this.ops.splice(0)) await this.serve(req, execute);
  }

  private async serve({ op, reply, progress, wanted }: OpRequest, execute: (op: StoreOp, progress: OpProgress) => Promise<OpOutcome>): Promise<void> {
    // Its sender gave up waiting (and will likely ask again): carrying it out now would do it twice.
    if (!wanted()) {
      this.logger.info(`${op.kind} withdrawn by its sender before its turn; not done`, { event: 'request-withdrawn', op: op.kind });
      reply({ ok: false, error: 'withdrawn by its sender', exitCode: 1 });
      return;
    }
    try {
      const outcome = await execute(op, progress);
      reply({ ok: true, outcome });
    } catch (err) {
      const exitCode = err instanceof CkptdError ? err.exitCode : 1;
      this.logger.warn(`${op.kind} not done: ${(err as Error).message}`, { event: 'op-failed', op: op.kind });
      reply({ ok: false, error: (err as Error).message, exitCode });
    }
  }
}
