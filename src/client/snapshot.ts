/**
 * `ckptd snapshot` and `ckptd backup-now`: take a snapshot of the settled state now, through the
 * running daemon when there is one, directly otherwise.
 */
import type { RunConfig } from '../config/types.js';
import { recordTaken } from '../policy/decide.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { KnownBeforeReader } from '../store/known-before.js';
import { readRunState, writeRunState } from '../store/state-file.js';
import { stateDigest } from '../store/scan.js';
import { sendRequest } from '../daemon/requests.js';
import { queueIfPushed } from '../ops/push.js';
import { applyRetention, captureSnapshot, isMissing } from '../ops/run-actions.js';
import { waitForSettled } from '../ops/settle.js';
import { CkptdError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { daemonHolds, withStoreLock } from './one-shot.js';

/** How long a command waits for the state to settle or for the daemon to answer. */
const WAIT_MS = 10 * 60_000;

/**
 * Rejects names and notes that cannot be shown or stored safely, naming the value as `given` (how
 * the user gave it: `--name` of `snapshot`, `<name>` of `rename`, ...).
 */
export function checkLabel(what: 'name' | 'notes', text: string | undefined, given = `--${what}`): string | null {
  if (text === undefined) return null;
  const max = what === 'name' ? 200 : 10_000;
  if (text.length > max) throw new UsageError(`${given} is ${text.length} characters long; the limit is ${max}`);
  // C1 controls too: `list` and `show` print labels as they are, and U+009B is a terminal's CSI.
  // eslint-disable-next-line no-control-regex
  const bad = what === 'name' ? /[\u0000-\u001f\u007f-\u009f]/ : /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
  if (bad.test(text)) throw new UsageError(`${given} contains control characters${what === 'name' ? ' (names are one line)' : ''}; remove them`);
  return what === 'name' ? text.trim() || null : text;
}

export interface TakeResult {
  id: string;
  viaDaemon: boolean;
}

async function settledState(run: RunConfig, logger: Logger) {
  let said = '';
  // A file emptied moments ago is waited for, as the daemon waits: the capture would leave it out.
  const knownBefore = new KnownBeforeReader();
  const entries = await waitForSettled(
    run,
    WAIT_MS,
    (reason) => {
      if (reason !== said) logger.info(`waiting for the run to settle: ${reason}`);
      said = reason;
    },
    (paths) => knownBefore.of(run.store, paths),
  ).catch((err: unknown) => {
    if (isMissing(err)) throw new CkptdError(`nothing to capture: the run folder ${run.path} does not exist`);
    throw err;
  });
  if (entries.length === 0) throw new CkptdError(`nothing to capture: ${run.path} holds no included files`);
  const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
  return { entries, progress };
}

/** Takes a `manual` snapshot (named, with notes, optionally pinned). */
export async function takeManualSnapshot(
  run: RunConfig,
  label: { name: string | null; notes: string | null; pinned: boolean },
  logger: Logger,
): Promise<TakeResult> {
  if (await daemonHolds(run)) {
    logger.info('asking the running daemon to take the snapshot at its next settled moment');
    const reply = await sendRequest(run.store, { type: 'snapshot', ...label }, WAIT_MS);
    if (!reply.ok || !reply.snapshotId) throw new CkptdError(`the daemon could not take the snapshot: ${reply.error ?? 'no reason given'}`);
    return { id: reply.snapshotId, viaDaemon: true };
  }
  return withStoreLock(run, 'snapshot', async () => {
    const { entries, progress } = await settledState(run, logger);
    const now = Date.now();
    const meta = await captureSnapshot(run, entries, { kind: 'manual', trigger: 'manual', ...label, progress, now }, logger);
    await queueIfPushed(run, meta, now);
    return { id: meta.id, viaDaemon: false };
  });
}

/** Takes a policy backup now (counted by `rolling`), then applies rolling retention. */
export async function takeBackupNow(run: RunConfig, logger: Logger): Promise<TakeResult> {
  if (await daemonHolds(run)) {
    logger.info('asking the running daemon for a backup at its next settled moment');
    const reply = await sendRequest(run.store, { type: 'backup-now' }, WAIT_MS);
    if (!reply.ok || !reply.snapshotId) throw new CkptdError(`the daemon could not take the backup: ${reply.error ?? 'no reason given'}`);
    return { id: reply.snapshotId, viaDaemon: true };
  }
  return withStoreLock(run, 'backup-now', async () => {
    const { entries, progress } = await settledState(run, logger);
    const now = Date.now();
    const meta = await captureSnapshot(run, entries, { kind: 'backup', trigger: 'backup-now', progress, now }, logger);
    await writeRunState(run.store, recordTaken(await readRunState(run.store), 'backup', progress, stateDigest(entries), now));
    // Queued as the daemon queues its backups: retention keeps it until a push has sent it.
    await queueIfPushed(run, meta, now);
    await applyRetention(run, meta.id, now, logger);
    return { id: meta.id, viaDaemon: false };
  });
}
