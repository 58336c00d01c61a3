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

/**
 * Applies `delete_on_finish` after the trainer finished (exit 0, not stopped), per the config
 * file as it is now (`runAtFinish`), holding the store lock. `wrapUpCut`: a signal cut the wrap-up
 * short, so nothing is deleted. Never throws: every outcome is logged.
 */
export async function applyDeleteOnFinish(config: Config, started: RunConfig, wrapUpCut: boolean, log: Logger): Promise<void> {
  const now = runAtFinish(config, started);
  if ('problem' in now) {
    if (started.backup.deleteOnFinish) log.warn(`delete_on_finish not done: ${now.problem}; the policy backups stay`, { event: 'delete-on-finish-skipped' });
    return;
  }
  if (!now.run.backup.deleteOnFinish) {
    if (started.backup.deleteOnFinish) log.info(`delete_on_finish is now false in ${config.file}: the policy backups stay`, { event: 'delete-on-finish-skipped' });
    return;
  }
  if (wrapUpCut) {
    log.warn('delete_on_finish skipped: the wrap-up was cut short; the policy backups stay', { event: 'delete-on-finish-skipped' });
    return;
  }
  await withStoreLock(now.run, 'run', () => deleteOnFinish(now.run, log, Date.now())).catch((err: unknown) =>
    log.error(`delete_on_finish not done: ${(err as Error).message}; the policy backups stay`, { event: 'error' }),
  );
}
