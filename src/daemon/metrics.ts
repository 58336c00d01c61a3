/**
 * Metrics in the Prometheus text format, written to a file for node_exporter's textfile collector
 * (`metrics.file`, e.g. /var/lib/node_exporter/textfile_collector/ckptd.prom). Counts come from
 * the daemon's structured log events (`snapshot`, `save`, `error`, `low-disk`, `delete`, `push`,
 * `push-failed`), so the
 * metrics say exactly what the log says. Nothing listens on a port.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { LogFields, Logger } from '../util/logger.js';
import { tapLines } from '../util/tap-logger.js';
import { writeFileAtomic } from '../store/durable.js';

export interface RunCounters {
  snapshots: Record<string, number>;
  saves: number;
  failures: number;
  deletions: number;
  bytesCopied: number;
  bytesLinked: number;
  durationSeconds: number;
  lastSuccess: number | null;
  /** Records pushed to the remote, pushes that failed (retried later), bytes sent. Omitted: 0. */
  pushes?: number;
  pushFailures?: number;
  bytesPushed?: number;
  lastPush?: number | null;
}

/** The metrics of every run, as the Prometheus text exposition format. Pure. */
export function renderMetrics(runs: ReadonlyMap<string, RunCounters>, startedAt: number): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) out.push(`${name}${labels} ${v}`);
  };
  const label = (run: string, extra = ''): string => `{run="${run.replace(/["\\\n]/g, '_')}"${extra}}`;
  const each = (f: (c: RunCounters) => number): [string, number][] => [...runs].map(([r, c]) => [label(r), f(c)]);
  family('ckptd_start_time_seconds', 'gauge', 'When the daemon started (Unix time).', [['', startedAt / 1000]]);
  family(
    'ckptd_snapshots_total',
    'counter',
    'Snapshots taken, by kind.',
    [...runs].flatMap(([r, c]) => Object.entries(c.snapshots).map(([kind, n]): [string, number] => [label(r, `,kind="${kind}"`), n])),
  );
  family('ckptd_saves_total', 'counter', 'Saves exported.', each((c) => c.saves));
  family('ckptd_failures_total', 'counter', 'Snapshots or saves that failed or were refused (low disk).', each((c) => c.failures));
  family('ckptd_deletions_total', 'counter', 'Snapshots and saves deleted by retention or on request.', each((c) => c.deletions));
  family('ckptd_bytes_copied_total', 'counter', 'Bytes copied into snapshots.', each((c) => c.bytesCopied));
  family('ckptd_bytes_linked_total', 'counter', 'Bytes of unchanged files hard-linked instead of copied.', each((c) => c.bytesLinked));
  family('ckptd_snapshot_duration_seconds_total', 'counter', 'Time spent taking snapshots.', each((c) => c.durationSeconds));
  family(
    'ckptd_last_success_timestamp_seconds',
    'gauge',
    'When the last snapshot or save of the run succeeded (Unix time; 0 = never).',
    each((c) => (c.lastSuccess ?? 0) / 1000),
  );
  family('ckptd_pushes_total', 'counter', 'Records pushed to the remote.', each((c) => c.pushes ?? 0));
  family('ckptd_push_failures_total', 'counter', 'Pushes to the remote that failed (the record stays queued and is retried).', each((c) => c.pushFailures ?? 0));
  family('ckptd_bytes_pushed_total', 'counter', 'Bytes sent to the remote (blobs already there are not sent).', each((c) => c.bytesPushed ?? 0));
  family('ckptd_last_push_timestamp_seconds', 'gauge', 'When the last push to the remote succeeded (Unix time; 0 = never).', each((c) => (c.lastPush ?? 0) / 1000));
  return `${out.join('\n')}\n`;
}

/**
 * Collects counters from log events and writes the file (at most once a second), creating its
 * folder if missing. A write that fails is reported to `onError` once, until a write works again.
 */
export class Metrics {
  private readonly runs = new Map<string, RunCounters>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** The last write failed: `onError` is not called again until a write works. */
  private failing = false;

  constructor(
    private readonly file: string,
    private readonly now: () => number,
    private readonly startedAt: number,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Makes sure a run appears (with zeros) from the start. */
  addRun(run: string): void {
    if (!this.runs.has(run)) {
      this.runs.set(run, { snapshots: {}, saves: 0, failures: 0, deletions: 0, bytesCopied: 0, bytesLinked: 0, durationSeconds: 0, lastSuccess: null });
    }
    this.schedule();
  }

  /** Counts one log event of `run`. */
  record(run: string, event: string, fields: LogFields): void {
    this.addRun(run);
    const c = this.runs.get(run)!;
    const num = (k: string): number => (typeof fields[k] === 'number' ? (fields[k] as number) : 0);
    switch (event) {
      case 'snapshot': {
        const kind = typeof fields.kind === 'string' ? fields.kind : 'backup';
        c.snapshots[kind] = (c.snapshots[kind] ?? 0) + 1;
        c.bytesCopied += num('copied_bytes');
        c.bytesLinked += num('linked_bytes');
        c.durationSeconds += num('duration_ms') / 1000;
        c.lastSuccess = this.now();
        break;
      }
      case 'save':
        c.saves++;
        c.lastSuccess = this.now();
        break;
      case 'error':
      case 'low-disk':
        c.failures++;
        break;
      case 'delete':
        if (fields.remote !== true) c.deletions++;
        break;
      case 'push':
        c.pushes = (c.pushes ?? 0) + 1;
        c.bytesPushed = (c.bytesPushed ?? 0) + num('sent_bytes');
        c.lastPush = this.now();
        break;
      case 'push-failed':
        c.pushFailures = (c.pushFailures ?? 0) + 1;
        break;
      default:
        return;
    }
    this.schedule();
  }

  /** Writes what is pending now (at shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.write();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.write();
    }, 1000);
  }

  private write(): Promise<void> {
    // The folder is created as the log file's is: a collector folder not made yet is not an error.
    this.writing = this.writing.then(() =>
      fsp
        .mkdir(path.dirname(this.file), { recursive: true })
        .then(() => writeFileAtomic(this.file, renderMetrics(this.runs, this.startedAt)))
        .then(
          () => void (this.failing = false),
          (err: unknown) => {
            // Writes follow every counted event: one warning per outage, not one per write.
            if (!this.failing) this.onError(err as Error);
            this.failing = true;
          },
        ),
    );
    return this.writing;
  }
}

/**
 * A logger that also hands every line's `event` and fields (those of its `child()` calls merged
 * in) to `onEvent`, whatever the log level.
 */
export function observeEvents(logger: Logger, onEvent: (event: string, fields: LogFields) => void): Logger {
  return tapLines(logger, (_level, _message, fields) => {
    if (typeof fields.event === 'string') onEvent(fields.event, fields);
  });
}
