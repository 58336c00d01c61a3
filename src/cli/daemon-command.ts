/**
 * `ckptd daemon` and `ckptd watch`: run in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
 * A first SIGTERM/SIGINT finishes or abandons the snapshot in progress and exits 0; a second
 * SIGINT exits at once.
 */
import type { Config } from '../config/types.js';
import { Daemon } from '../daemon/daemon.js';
import { SafetyError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

/** Runs the daemon until a stop signal; resolves with the exit code. */
/** A SIGINT this soon after the first is the same Ctrl-C delivered twice, not a second press. */
const SECOND_INTERRUPT_AFTER_MS = 1000;

export async function runDaemon(config: Config, watchConfigFile: boolean): Promise<number> {
  const logger = createLogger(config.log);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ config, logger, watchConfigFile });
  } catch (err) {
    logger.error(`cannot start: ${(err as Error).message}`, { event: 'daemon-failed' });
    await logger.close();
    if ((err as Error).name === 'StoreLockedError') throw new SafetyError((err as Error).message);
    throw err;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    let stoppingSince = 0;
    const stop = (signal: string): void => {
      if (stopping) {
        // One Ctrl-C reaches the daemon twice when a wrapper (npm, a script) forwards the signal
        // the terminal already sent to the whole process group: only a later one is a second press.
        if (signal === 'SIGINT' && Date.now() - stoppingSince > SECOND_INTERRUPT_AFTER_MS) {
          logger.warn('second interrupt: exiting now; an unfinished snapshot is cleaned up at the next start');
          process.exit(130);
        }
        return;
      }
      stopping = true;
      stoppingSince = Date.now();
      logger.info(`${signal} received: stopping`, { event: 'daemon-stopping' });
      void daemon
        .stop()
        .catch((err: unknown) => logger.error(`error while stopping: ${(err as Error).message}`))
        .then(async () => {
          logger.info('stopped', { event: 'daemon-stopped' });
          await logger.close();
          resolve(0);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void daemon.reload('SIGHUP'));
  });
}
