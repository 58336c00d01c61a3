/**
 * A logger that also hands every line to a listener, before and regardless of the level filter:
 * `ckptd run` learns from the daemon's own decision lines when the final state has been evaluated,
 * systemd's status line and the metrics file are kept from them.
 */
import type { LogFields, Logger, RootLogger } from './logger.js';

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

/** Receives each line with the fields of every `child()` above it merged in. */
export type LogListener = (level: LogLevelName, message: string, fields: LogFields) => void;

/** Wraps `root`: every line goes to `root` as before and to `listener`. A throwing listener is ignored. */
export function tapLogger(root: RootLogger, listener: LogListener): RootLogger {
  return { ...tapLines(root, listener), configure: (opts) => root.configure(opts), close: () => root.close() };
}

/** `tapLogger` for any logger (a child, say): every line goes to `logger` as before and to `listener`. */
export function tapLines(logger: Logger, listener: LogListener): Logger {
  const tell = (level: LogLevelName, message: string, fields: LogFields): void => {
    try {
      listener(level, message, fields);
    } catch {
      // A listener is an observer: it must never break logging.
    }
  };
  const wrap = (inner: Logger, bound: LogFields): Logger => {
    const line = (level: LogLevelName) => (message: string, fields?: LogFields): void => {
      tell(level, message, { ...bound, ...fields });
      inner[level](message, fields);
    };
    return {
      error: line('error'),
      warn: line('warn'),
      info: line('info'),
      debug: line('debug'),
      child: (fields) => wrap(inner.child(fields), { ...bound, ...fields }),
    };
  };
  return wrap(logger, {});
}
