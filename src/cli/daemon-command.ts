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
    const stop = (signal: string): void => {
      if (stopping) {
        if (signal === 'SIGINT') {
          logger.warn('second interrupt: exiting now; an unfinished snapshot is cleaned up at the next start');
          process.exit(130);
        }
        return;
      }
      stopping = true;
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
