/**
 * The one-line status a service manager shows for the daemon (`systemctl status ckptd`:
 * "Status: watching 2 runs; last backup 3 minutes ago"), kept current from the daemon's own log
 * entries so it costs nothing beyond what the daemon already does.
 */
import type { Config } from '../config/types.js';
import { storeOf } from '../store/local-store.js';
import type { LogFields } from '../util/logger.js';
import { relativeTime } from '../client/list.js';

/** What the status line is made of. Times are ms since the epoch; null: never (since start). */
export interface ServiceStatusFacts {
  runs: number;
  lastBackupAt: number | null;
  lastSaveAt: number | null;
  /** The newest error logged since the last successful backup, or null. */
  lastError: { at: number; message: string } | null;
}

/** `watching 2 runs; last backup 3 minutes ago; last save 1 hour ago` (plus the newest error, if any). */
export function describeServiceStatus(f: ServiceStatusFacts, now: number): string {
  const ago = (t: number): string => relativeTime(new Date(t).toISOString(), now);
  const parts = [`watching ${f.runs} run${f.runs === 1 ? '' : 's'}`];
  parts.push(f.lastBackupAt === null ? 'no backup yet' : `last backup ${ago(f.lastBackupAt)}`);
  if (f.lastSaveAt !== null) parts.push(`last save ${ago(f.lastSaveAt)}`);
  if (f.lastError) parts.push(`error ${ago(f.lastError.at)}: ${f.lastError.message.slice(0, 120)}`);
  return parts.join('; ');
}

/**
 * Tracks the facts of `describeServiceStatus` from log entries: `snapshot` (kind backup) and `save`
 * events, and errors (cleared by the next backup, or by a reload after an invalid config).
 */
export class ServiceStatusTracker {
  private lastBackupAt: number | null = null;
  private lastSaveAt: number | null = null;
  private lastError: { at: number; message: string } | null = null;
  /** The `event` code of the last error's log entry: a reload clears only a `config-invalid` one. */
  private lastErrorEvent: unknown = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** Seeds the last backup time from the stores (the newest `backup` snapshot of any run). */
  async seed(config: Config): Promise<void> {
    for (const run of config.runs) {
      const newest = (await storeOf(run.store).listSnapshotHeaders().catch(() => [])).find((s) => s.kind === 'backup');
      const at = newest ? Date.parse(newest.created) : NaN;
      if (Number.isFinite(at) && (this.lastBackupAt === null || at > this.lastBackupAt)) this.lastBackupAt = at;
    }
  }

  /** Feeds one log line (`fields` with the child loggers' fields merged in); true when it changed the facts. */
  note(level: string, message: string, fields: LogFields): boolean {
    const event = fields.event;
    if (event === 'snapshot' && fields.kind === 'backup') {
      this.lastBackupAt = this.now();
      this.lastError = null;
      return true;
    }
    if (event === 'config-reloaded' && this.lastError !== null && this.lastErrorEvent === 'config-invalid') {
      this.lastError = null;
      return true;
    }
    if (event === 'save') {
      this.lastSaveAt = this.now();
      return true;
    }
    if (level === 'error') {
      const run = typeof fields.run === 'string' ? `${fields.run}: ` : '';
      this.lastError = { at: this.now(), message: run + message };
      this.lastErrorEvent = event;
      return true;
    }
    return false;
  }

  /** The status line for `runs` watched runs, now. */
  text(runs: number): string {
    return describeServiceStatus({ runs, lastBackupAt: this.lastBackupAt, lastSaveAt: this.lastSaveAt, lastError: this.lastError }, this.now());
  }
}
