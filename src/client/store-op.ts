/**
 * Running a store operation (delete, restore, labels) the way every front end must: through the
 * daemon that holds the store, or here under the store's lock when none does. Shared by the CLI
 * and the Version panel.
 */
import { SingleBar } from 'cli-progress';
import type { RunConfig } from '../config/types.js';
import { sendRequest } from '../daemon/requests.js';
import { executeOp } from '../ops/execute.js';
import type { OpOutcome, StoreOp } from '../ops/types.js';
import { CkptdError, SafetyError, UsageError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';
import { createCliLogger } from './cli-logger.js';
import { daemonHolds, withStoreLock } from './one-shot.js';

/** How long a command waits for the daemon to finish an operation (a restore of many GB takes a while). */
const OP_WAIT_MS = 60 * 60_000;

/**
 * Runs `op` through the daemon holding the store, or here under the lock. `onProgress` hears the
 * bytes a restore has staged so far, either way (from the daemon, a few times a second); with
 * `showProgress`, a bar on stderr shows them for restores of 64 MiB or more.
 */
export async function runStoreOp(
  run: RunConfig,
  op: StoreOp,
  showProgress: boolean,
  onProgress?: (done: number, total: number) => void,
): Promise<OpOutcome & { viaDaemon: boolean }> {
  const chatty = createCliLogger({ verbose: process.stderr.isTTY === true });
  // The command prints the operation's summary itself (stdout); the log line saying the same is dropped.
  const summaries = new Set(['restore', 'label', 'delete']);
  const logger: typeof chatty = {
    ...chatty,
    info: (m, f) => (f && summaries.has(String(f.event)) ? undefined : chatty.info(m, f)),
  };
  const bar = showProgress ? new SingleBar({ format: ' {bar} {percentage}% | {done} of {all}', hideCursor: true, stream: process.stderr }) : null;
  let started = false;
  const report = (done: number, total: number): void => {
    onProgress?.(done, total);
    if (!bar || total < 64 << 20) return;
    if (!started) bar.start(total, 0, { done: formatBytes(0), all: formatBytes(total) });
    started = true;
    bar.update(done, { done: formatBytes(done), all: formatBytes(total) });
  };
  try {
    if (await daemonHolds(run)) {
      logger.info(`asking the running daemon to ${op.kind}`);
      const reply = await sendRequest(run.store, { type: 'op', op }, OP_WAIT_MS, report);
      if (!reply.ok || !reply.outcome) {
        const message = reply.error ?? 'no reason given';
        if (reply.exitCode === 3) throw new SafetyError(message);
        if (reply.exitCode === 2) throw new UsageError(message);
        throw new CkptdError(message);
      }
      return { ...reply.outcome, viaDaemon: true };
    }
    const outcome = await withStoreLock(run, op.kind, () => executeOp(run, op, { logger, now: Date.now(), onProgress: report }));
    return { ...outcome, viaDaemon: false };
  } finally {
    if (started) bar?.stop();
  }
}
