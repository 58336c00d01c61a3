/**
 * The last step of `ckptd run` after a finished training: `backup.delete_on_finish` (SPEC section
 * 7) as the config file says it when the trainer finishes, not as it said when ckptd run started.
 * A person who decides during a long training to keep its backups edits the file; deleting them
 * anyway would undo that decision for good. When the file no longer loads, no longer has the run,
 * or puts the run's store elsewhere, nothing is deleted.
 */
import { loadConfigFile } from '../config/load.js';
import type { Config, RunConfig } from '../config/types.js';
import { deleteOnFinish } from '../ops/delete-on-finish.js';
import type { Logger } from '../util/logger.js';
import { withStoreLock } from '../client/one-shot.js';
import { readSession, type SessionRecord } from '../store/session-file.js';

/** The run as the config file describes it now, or why it cannot be trusted for deleting. Pure but for the read. */
export function runAtFinish(config: Config, started: RunConfig): { run: RunConfig } | { problem: string } {
  if (config.file === null) return { run: started };
  let now: Config;
  try {
    now = loadConfigFile(config.file);
  } catch (err) {
    return { problem: `${config.file} no longer loads (${(err as Error).message.split('\n').join('; ')})` };
  }
  const run = now.runs.find((r) => r.name === started.name);
  if (run === undefined) return { problem: `${config.file} no longer has a run named ${started.name}` };
  if (run.store !== started.store) return { problem: `${config.file} now puts the store of ${started.name} at ${run.store}, not ${started.store}` };
  return { run };
}

/** What `applyDeleteOnFinish` knows of how the training ended, besides CMD's exit 0. */
export interface FinishFacts {
  /** A signal cut the wrap-up short. */
  wrapUpCut: boolean;
  /**
   * The processes CMD left running, as people read them (`TrainerTree.leftRunning`), or ''. A
   * wrapper that backgrounds the training (`python train.py &`) exits 0 while it goes on: its
   * backups are all there is to resume it from.
   */
  leftRunning: string;
  /**
   * This session's record as written when CMD ended, or null when it could not be written. The
   * backups are deleted only while the store's record is still this one: another `ckptd run`
   * started since (after this one's daemon let go) has its own backups, which its `--resume` needs.
   */
  session: SessionRecord | null;
}

/**
 * Applies `delete_on_finish` after the trainer finished (exit 0, not stopped), per the config
 * file as it is now (`runAtFinish`), holding the store lock. Nothing is deleted when the wrap-up
 * was cut short, CMD left processes running, or the store's session record is no longer this
 * session's (`FinishFacts`). Never throws: every outcome is logged.
 */
export async function applyDeleteOnFinish(config: Config, started: RunConfig, facts: FinishFacts, log: Logger): Promise<void> {
  const now = runAtFinish(config, started);
  if ('problem' in now) {
    if (started.backup.deleteOnFinish) log.warn(`delete_on_finish not done: ${now.problem}; the policy backups stay`, { event: 'delete-on-finish-skipped' });
    return;
  }
  if (!now.run.backup.deleteOnFinish) {
    if (started.backup.deleteOnFinish) log.info(`delete_on_finish is now false in ${config.file}: the policy backups stay`, { event: 'delete-on-finish-skipped' });
    return;
  }
  if (facts.wrapUpCut) {
    log.warn('delete_on_finish skipped: the wrap-up was cut short; the policy backups stay', { event: 'delete-on-finish-skipped' });
    return;
  }
  if (facts.leftRunning !== '') {
    log.warn(
      `delete_on_finish skipped: the trainer's command exited 0 but left ${facts.leftRunning} running, which may be the training itself; ` +
        'the policy backups stay (`ckptd delete ID` removes them; a wrapper that ends what it started in the background before it exits leaves nothing running)',
      { event: 'delete-on-finish-skipped' },
    );
    return;
  }
  const session = facts.session;
  if (session === null) {
    log.warn('delete_on_finish skipped: how the run ended could not be recorded; the policy backups stay', { event: 'delete-on-finish-skipped' });
    return;
  }
  await withStoreLock(now.run, 'run', async () => {
    const current = await readSession(now.run.store);
    if (current === null || current.started !== session.started || current.pid !== session.pid || current.host !== session.host) {
      log.warn('delete_on_finish skipped: another `ckptd run` of this run started since the trainer finished; the policy backups stay', { event: 'delete-on-finish-skipped' });
      return;
    }
    await deleteOnFinish(now.run, log, Date.now());
  }).catch((err: unknown) =>
    log.error(`delete_on_finish not done: ${(err as Error).message}; the policy backups stay`, { event: 'error' }),
  );
}
