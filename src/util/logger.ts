/**
 * The logger edge: one readable line per decision or action on stdout (journald-friendly), or one
 * JSON object per line with `log.format: json`. Level and format can change live (config reload).
 * When stdout is the journal, text lines carry the sd-daemon(3) priority prefix (`<3>` error,
 * `<4>` warn, `<6>` info, `<7>` debug) instead of a timestamp: journald strips the prefix into the
 * entry's priority and stamps the time itself.
 */
import winston from 'winston';
import { isJournalStream } from './journal-stream.js';
import { hasControlChars } from './format.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

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

/** sd-daemon(3) priorities: what journald files each level under. */
const JOURNAL_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

const textBody = (info: Record<string, unknown>): string => {
  const { level, message, timestamp: _t, run, ...rest } = info;
  const prefix = run ? `${String(run)}: ` : '';
  const extra = Object.keys(rest).length > 0 ? ` ${formatFields(rest)}` : '';
  return `${String(level).padEnd(5)} ${prefix}${String(message)}${extra}`;
};

const textLine = winston.format.printf((info) => `${String(info.timestamp)} ${textBody(info as Record<string, unknown>)}`);

const journalLine = winston.format.printf((info) => {
  const priority = `<${JOURNAL_PRIORITY[info.level] ?? 6}>`;
  // journald makes one entry per line: each line keeps the priority of the entry it belongs to.
  return textBody(info as Record<string, unknown>)
    .split('\n')
    .map((l) => priority + l)
    .join('\n');
});

/** Fields the text line's message already says in words; JSON lines keep them for scripts. */
const SAID_IN_MESSAGE = new Set(['copied_bytes', 'linked_bytes', 'duration_ms', 'digest', 'reasons', 'remove']);

function formatFields(fields: Record<string | symbol, unknown>): string {
  return Object.entries(fields)
    .filter(([k]) => typeof k === 'string' && !SAID_IN_MESSAGE.has(k))
    // A string with control characters (a file name of the run) is quoted: one entry stays one line.
    .map(([k, v]) => `${k}=${typeof v === 'string' && !hasControlChars(v) ? v : quoted(v)}`)
    .join(' ');
}

function formatFor(format: LogFormat, journal = false): winston.Logform.Format {
  if (format === 'json') return winston.format.combine(winston.format.timestamp(), winston.format.json());
  return journal ? journalLine : winston.format.combine(winston.format.timestamp(), textLine);
}

/** Where `createLogger` writes its lines. */
export interface LogTarget {
  /** `stdout` (the daemon's) or `stderr` (`ckptd run`, whose stdout is the trainer's). Default stdout. */
  stream?: 'stdout' | 'stderr';
  /** Text lines in the priority-prefixed journald form. Default: that stream is the journal (`isJournalStream`). */
  journal?: boolean;
}

/**
 * Creates the process's logger writing to stdout or stderr (and optionally a file). When that
 * stream is the journal, text lines take the priority-prefixed form; the file and the JSON format
 * never change.
 */
export function createLogger(opts: { level: LogLevel; format: LogFormat; file: string | null }, target: LogTarget = {}): RootLogger {
  const toStderr = target.stream === 'stderr';
  const journal = target.journal ?? isJournalStream(process.env, toStderr ? 2 : 1);
  const w = winston.createLogger({ level: opts.level, exitOnError: false });
  let current = { format: opts.format, file: null as string | null };

  const configure = (next: { level: LogLevel; format: LogFormat; file: string | null }): void => {
    w.level = next.level;
    if (w.transports.length === 0 || next.format !== current.format || next.file !== current.file) {
      w.clear();
      w.add(new winston.transports.Console({ format: formatFor(next.format, journal), stderrLevels: toStderr ? Object.keys(winston.config.npm.levels) : [] }));
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

/** `v` as JSON, DEL and C1 escaped too (JSON leaves them raw). */
function quoted(v: unknown): string {
  return (JSON.stringify(v) ?? String(v)).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
