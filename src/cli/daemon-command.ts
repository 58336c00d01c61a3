/**
 * `ckptd daemon` and `ckptd watch`: run in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
 * A first SIGTERM/SIGINT finishes or abandons the snapshot in progress and exits 0; a second
 * SIGINT exits at once. Under systemd (`Type=notify`) it reports READY=1 once every run is
 * started, RELOADING=1 … READY=1 around a SIGHUP reload, STOPPING=1 on shutdown, WATCHDOG=1 when
 * a watchdog is set, and a STATUS= line; without `$NOTIFY_SOCKET` none of that runs.
 */
import type { Config } from '../config/types.js';
import { Daemon } from '../daemon/daemon.js';
import { limitHeapGrowth } from '../daemon/heap-growth.js';
import { createNotifier } from '../daemon/sd-notify.js';
import { SafetyError } from '../util/errors.js';
import { createLogger, type RootLogger } from '../util/logger.js';
import { surviveLostOutput } from '../util/lost-output.js';
import { tapLogger } from '../util/tap-logger.js';
import { ServiceStatusTracker } from './service-status.js';

/** A SIGINT this soon after the first is the same Ctrl-C delivered twice, not a second press. */
const SECOND_INTERRUPT_AFTER_MS = 1000;
/** How long a shutdown waits for the service manager to take the last notifications (a healthy one answers in ms). */
const NOTIFY_FLUSH_MS = 3000;
/** How often the "last backup 3 minutes ago" status is refreshed (it is only sent when it changed). */
const STATUS_REFRESH_MS = 60_000;

/** Runs the daemon until a stop signal; resolves with the exit code. */
export async function runDaemon(config: Config, watchConfigFile: boolean): Promise<number> {
  limitHeapGrowth();
  // For the process's lifetime: its log lines may be lost, its backups must not be.
  surviveLostOutput();
  const root = createLogger(config.log);
  const notifier = createNotifier(process.env, { logger: root });
  const tracker = new ServiceStatusTracker();
  let daemon: Daemon | null = null;
  const statusText = (): string => tracker.text(daemon?.runCount ?? 0);
  let refresh: NodeJS.Timeout | null = null;
  let logger: RootLogger = root;
  if (notifier.enabled) {
    await tracker.seed(config);
    // The status line follows the daemon's own log lines (backups, saves, errors).
    logger = tapLogger(root, (level, message, fields) => {
      if (tracker.note(level, message, fields) && daemon) notifier.status(statusText());
    });
  }
  // Signals that come while the runs start (systemd may stop a unit that is still starting) are
  // held and acted on once the daemon can stop cleanly, instead of killing it midway.
  const held: { stop: 'SIGTERM' | 'SIGINT' | null; reload: boolean } = { stop: null, reload: false };
  const holdTerm = (): void => void (held.stop ??= 'SIGTERM');
  const holdInt = (): void => void (held.stop ??= 'SIGINT');
  const holdHup = (): void => void (held.reload = true);
  process.on('SIGTERM', holdTerm);
  process.on('SIGINT', holdInt);
  process.on('SIGHUP', holdHup);
  const release = (): void => {
    process.off('SIGTERM', holdTerm);
    process.off('SIGINT', holdInt);
    process.off('SIGHUP', holdHup);
  };
  try {
    daemon = await Daemon.start({ config, logger, watchConfigFile, managePriority: true });
  } catch (err) {
    release();
    logger.error(`cannot start: ${(err as Error).message}`, { event: 'daemon-failed' });
    notifier.status(`cannot start: ${(err as Error).message}`);
    await notifier.close(NOTIFY_FLUSH_MS);
    await logger.close();
    if ((err as Error).name === 'StoreLockedError') throw new SafetyError((err as Error).message);
    throw err;
  }
  const running = daemon;
  notifier.ready(statusText());
  if (notifier.enabled) refresh = setInterval(() => notifier.status(statusText()), STATUS_REFRESH_MS).unref();
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
      if (refresh) clearInterval(refresh);
      notifier.stopping(`stopping (${signal})`);
      logger.info(`${signal} received: stopping`, { event: 'daemon-stopping' });
      void running
        .stop()
        .catch((err: unknown) => logger.error(`error while stopping: ${(err as Error).message}`))
        .then(async () => {
          logger.info('stopped', { event: 'daemon-stopped' });
          await notifier.close(NOTIFY_FLUSH_MS);
          await logger.close();
          resolve(0);
        });
    };
    const reload = (): void => {
      if (stopping) return;
      notifier.reloading('reloading the config (SIGHUP)');
      void running.reload('SIGHUP').finally(() => {
        if (!stopping) notifier.ready(statusText());
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reload);
    release();
    if (held.stop) stop(held.stop);
    else if (held.reload) reload();
  });
}
