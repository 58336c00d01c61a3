/**
 * The logger edge: one readable line per decision or action on stdout (journald-friendly), or one
 * JSON object per line with `log.format: json`. Level and format can change live (config reload).
 */
import winston from 'winston';
import type { LogFormat, LogLevel } from '../config/types.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` (e.g. `{run: 'x'}`) to every line. */
  child(fields: LogFields): Logger;
}

export interface RootLogger extends Logger {
  /** Apply a (possibly new) level, format and file; used at start and on every config reload. */
  configure(opts: { level: LogLevel; format: LogFormat; file: string | null }): void;
  /** Wait until every transport has written what it was given. */
  close(): Promise<void>;
}

const textLine = winston.format.printf((info) => {
  const { level, message, timestamp, run, ...rest } = info as Record<string, unknown>;
  const prefix = run ? `${String(run)}: ` : '';
  const extra = Object.keys(rest).length > 0 ? ` ${formatFields(rest)}` : '';
  return `${String(timestamp)} ${String(level).padEnd(5)} ${prefix}${String(message)}${extra}`;
});

function formatFields(fields: Record<string | symbol, unknown>): string {
  return Object.entries(fields)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

function formatFor(format: LogFormat): winston.Logform.Format {
  return format === 'json'
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(winston.format.timestamp(), textLine);
}

/** Creates the process's logger writing to stdout (and optionally a file). */
export function createLogger(opts: { level: LogLevel; format: LogFormat; file: string | null }): RootLogger {
  const w = winston.createLogger({ level: opts.level, exitOnError: false });
  let current = { format: opts.format, file: null as string | null };

  const configure = (next: { level: LogLevel; format: LogFormat; file: string | null }): void => {
    w.level = next.level;
    if (w.transports.length === 0 || next.format !== current.format || next.file !== current.file) {
      w.clear();
      w.add(new winston.transports.Console({ format: formatFor(next.format) }));
      if (next.file) w.add(new winston.transports.File({ filename: next.file, format: formatFor(next.format) }));
      current = { format: next.format, file: next.file };
    }
  };
  configure(opts);

  const make = (w2: winston.Logger): Logger => ({
    error: (m, f) => w2.error(m, f ?? {}),
    warn: (m, f) => w2.warn(m, f ?? {}),
    info: (m, f) => w2.info(m, f ?? {}),
    debug: (m, f) => w2.debug(m, f ?? {}),
    child: (fields) => make(w2.child(fields)),
  });

  return {
    ...make(w),
    configure,
    close: () =>
      new Promise<void>((resolve) => {
        w.on('finish', () => resolve());
        w.end();
        setTimeout(resolve, 500).unref();
      }),
  };
}

/** A logger that drops everything (for one-shot CLI work that reports through its own output). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
