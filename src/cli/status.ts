/**
 * `ckptd status`: per run, whether a daemon holds it (and since when), progress, the last backup and
 * save, when the next ones are due and why, store usage, free disk, and warnings. Reads only: it
 * works without a daemon and says so.
 */
import os from 'node:os';
import type { Config, RunConfig } from '../config/types.js';
import { priorityMismatch, readProcessPriority, type ProcessPriority } from '../daemon/process-priority.js';
import { policyConfigOf } from '../daemon/run-evaluation.js';
import { processPriority, type Priority } from '../policy/process-priority.js';
import { scanRun } from '../ops/run-actions.js';
import { describeNext } from '../policy/describe-next.js';
import { NO_PROGRESS, type Progress } from '../policy/types.js';
import { savingFolderOf } from '../policy/hot-files.js';
import { readProgress, runFilesOf } from '../progress/read-progress.js';
import { leftOutOf } from '../store/scan.js';
import { storeOf } from '../store/local-store.js';
import { readBlocking } from '../store/blocking-file.js';
import { readWatchNote } from '../store/watch-note.js';
import { readFailureNote, type FailureNote } from '../store/failure-note.js';
import { readRunState } from '../store/state-file.js';
import { formatBytes, formatMetrics, formatProgress, printableName } from '../util/format.js';
import { relativeTime, storeUsage } from '../client/list.js';
import { remoteStatus, type RemoteStatus } from '../client/remote-status.js';
import { describeFailing } from '../client/failing.js';

export interface RunStatus {
  run: string;
  path: string;
  store: string;
  daemon: {
    running: boolean;
    pid: number | null;
    host: string | null;
    since: string | null;
    command: string | null;
    /** What the daemon runs at (nice value, IO class), when it runs on this machine; else null. */
    priority: ProcessPriority | null;
  };
  progress: Progress;
  last_backup: { id: string; created: string; epoch: number | null; step: number | null } | null;
  last_save: { id: string; created: string; path: string } | null;
  next: { backup: string; save: string };
  snapshots: number;
  saves: number;
  store_disk_bytes: number;
  store_apparent_bytes: number;
  free_bytes: number | null;
  /** The running daemon's backups or saves failing since their last success (`last-failure.json`); null when none fails. */
  failing: FailureNote | null;
  /** The push to the run's remote (SPEC section 8), or null when the run has no remote. */
  remote: RemoteStatus | null;
  warnings: string[];
}

/**
 * Gathers the status of one run at `now`. `priority`: the priority the daemon's whole config asks
 * for (`processPriority` over its runs); default: this run's own.
 */
export async function runStatus(run: RunConfig, now: number, priority: Priority = run.priority): Promise<RunStatus> {
  const warnings: string[] = [];
  const holder = await storeOf(run.store).lockHolder().catch(() => null);
  const running = holder !== null && holder.alive && holder.command === 'daemon';
  if (!running) warnings.push('no daemon is running for this run: nothing is backed up until `ckptd daemon` (or the service) runs');
  const actual = running && holder.host === os.hostname() ? await readProcessPriority(holder.pid) : null;
  const mismatch = actual && priorityMismatch(priority, actual);
  if (mismatch) warnings.push(mismatch);

  const { progress, files } = await lookAtRun(run, warnings);
  const needs = [run.backup.every.unit, run.save.every.unit].filter((u) => u === 'epochs' || u === 'steps');
  if (needs.length > 0 && progress.source === null && files > 0) {
    warnings.push(`a policy counts ${needs[0]}, but no progress source found any in the run (progress: ${run.progress.kind}); see \`ckptd progress\``);
  }

  const failing = running ? await readFailureNote(run.store) : null;
  if (failing !== null) warnings.push(describeFailing(failing, now));
  if (running) {
    const watchNote = await readWatchNote(run.store);
    if (watchNote !== null) warnings.push(watchNote);
    const blocking = await readBlocking(run.store);
    for (const b of blocking) {
      // A file of a checkpoint folder being saved is that save at work: the folder's line says it.
      if (savingFolderOf(blocking, b.path) !== undefined) continue;
      if (b.lastFile !== undefined) {
        warnings.push(
          `${printableName(b.path)} is a checkpoint still being saved since ${b.since > 0 ? new Date(b.since).toISOString() : 'start'} (${b.reason}): ` +
            (b.hot ? `backups are taken without it and marked incomplete until its ${b.lastFile} appears` : `no backup is taken until its ${b.lastFile} appears`),
        );
        continue;
      }
      const what = b.hot
        ? 'backups are taken without it and marked incomplete'
        : 'no backup can be taken while it changes';
      warnings.push(
        `${printableName(b.path)} has kept the state from settling since ${b.since > 0 ? new Date(b.since).toISOString() : 'start'} (${b.reason}): ${what}; ` +
          `if it need not be backed up, add it to the run's exclude (exclude: ["${printableName(b.path)}"])`,
      );
    }
  }

  const store = storeOf(run.store);
  // Headers only: the manifests of a store of 100,000-file snapshots take tens of MB each.
  const snapshots = await store.listSnapshotHeaders();
  const saves = await store.listSaves();
  const backup = snapshots.find((s) => s.kind === 'backup') ?? null;
  const save = saves[0] ?? null;
  const newest = snapshots[0];
  if (newest && newest.incomplete) {
    const complete = snapshots.find((s) => s.kind === 'backup' && !s.damaged && !s.incomplete);
    warnings.push(
      `the newest snapshot ${newest.id} is incomplete: it left out ${newest.skipped.map((s) => `${printableName(s.path)} (${s.reason})`).join(', ')}; ` +
        (complete ? `the newest complete backup is ${complete.id} (${relativeTime(complete.created, now)})` : 'there is no complete backup'),
    );
  }
  const damaged = snapshots.filter((s) => s.damaged === true);
  if (damaged.length > 0) warnings.push(`${damaged.length} snapshot(s) failed verification: ${damaged.map((d) => d.id).join(', ')}`);
  const broken = await store.findBroken().catch(() => []);
  if (broken.length > 0) warnings.push(`${broken.length} folder(s) in the store are not valid snapshots: ${broken.map((b) => b.path).join(', ')}`);

  const usage = await storeUsage(run);
  const free = await store.freeBytes().catch(() => null);
  if (free !== null && free < run.retention.minFreeBytes) {
    warnings.push(`disk low: ${formatBytes(free)} free where the store lives, below min_free ${formatBytes(run.retention.minFreeBytes)}; snapshots are refused until space is freed`);
  }
  if (run.retention.maxSizeBytes !== null && usage.diskBytes > run.retention.maxSizeBytes) {
    warnings.push(`the store holds ${formatBytes(usage.diskBytes)}, over max_size ${formatBytes(run.retention.maxSizeBytes)}; everything left is protected`);
  }

  const state = await readRunState(run.store);
  return {
    run: run.name,
    path: run.path,
    store: run.store,
    daemon: { running, pid: holder?.pid ?? null, host: holder?.host ?? null, since: holder?.since ?? null, command: holder?.command ?? null, priority: actual },
    progress,
    last_backup: backup ? { id: backup.id, created: backup.created, epoch: backup.epoch, step: backup.step } : null,
    last_save: save ? { id: save.id, created: save.created, path: save.path } : null,
    next: describeNext(policyConfigOf(run), state, progress, now),
    snapshots: snapshots.length,
    saves: saves.length,
    store_disk_bytes: usage.diskBytes,
    store_apparent_bytes: usage.apparentBytes,
    free_bytes: free,
    failing,
    remote: await remoteStatus(run, [...snapshots, ...saves]),
    warnings,
  };
}

/** Status of every run of the config (or the one picked). */
export async function configStatus(config: Config, only: string | undefined, now: number): Promise<RunStatus[]> {
  const runs = only === undefined ? config.runs : config.runs.filter((r) => r.name === only);
  const priority = processPriority(config.runs);
  return Promise.all(runs.map((r) => runStatus(r, now, priority)));
}

/** The human form: a block per run. */
export function renderStatus(list: RunStatus[], now: number): string {
  return list
    .map((s) => {
      const d = s.daemon;
      const lines = [
        `${s.run}: ${s.path}`,
        `  daemon:      ${d.running ? `running, pid ${d.pid} on ${d.host}, since ${d.since} (${relativeTime(d.since!, now)})${d.priority ? `; ${describePriority(d.priority)}` : ''}` : 'not running (this status is read from the store)'}`,
        `  progress:    ${s.progress.source ? `${formatProgress(s.progress)} (from ${s.progress.source})` : 'unknown'}`,
        ...(Object.keys(s.progress.metrics).length > 0 ? [`  metrics:     ${formatMetrics(s.progress.metrics)}`] : []),
        `  last backup: ${s.last_backup ? `${s.last_backup.id}, ${relativeTime(s.last_backup.created, now)}${s.last_backup.epoch !== null ? `, epoch ${s.last_backup.epoch}` : ''}` : 'none yet'}`,
        `  last save:   ${s.last_save ? `${s.last_save.id}, ${relativeTime(s.last_save.created, now)}: ${s.last_save.path}` : 'none yet'}`,
        `  next:        ${s.next.backup === 'never' ? 'backups: never' : s.next.backup}; ${s.next.save === 'never' ? 'saves: never' : s.next.save}`,
        `  store:       ${s.store}: ${s.snapshots} snapshot(s), ${s.saves} save(s), ${formatBytes(s.store_disk_bytes)} on disk (${formatBytes(s.store_apparent_bytes)} apparent)`,
        `  free disk:   ${s.free_bytes === null ? 'unknown' : formatBytes(s.free_bytes)}`,
        ...(s.remote ? [renderRemote(s.remote, now, s.daemon.running)] : []),
        ...s.warnings.map((w) => `  warning:     ${w}`),
      ];
      return lines.join('\n');
    })
    .join('\n\n');
}

function describePriority(p: ProcessPriority): string {
  return [p.nice === null ? null : `nice ${p.nice}`, p.io === null ? null : `IO ${p.io}`].filter((x) => x !== null).join(', ');
}

/** The remote line; `sending` only while a daemon runs: without one, what is queued waits. */
function renderRemote(r: RemoteStatus, now: number, daemonRunning: boolean): string {
  const parts = [`  remote:      ${r.url} (push ${r.push}): ${r.queued} queued (${formatBytes(r.bytes_pending)})`];
  if (r.uploading) parts.push(daemonRunning ? `sending ${r.uploading}` : `next to send ${r.uploading} (by \`ckptd push\` or the daemon)`);
  parts.push(r.last_pushed ? `last pushed ${r.last_pushed.id}, ${relativeTime(r.last_pushed.at, now)}` : 'nothing pushed yet');
  const line = parts.join('; ');
  return r.error ? `${line}\n  warning:     push of ${r.error.id} failed: ${r.error.message}${r.error.next_try ? ` (next try ${relativeTime(r.error.next_try, now)})` : ''}` : line;
}

/**
 * The run's progress and how many files it holds (0 when its folder cannot be read: a warning
 * says why); what the scan left out is warned about. Its own function so that the scan (100,000
 * entries for a large run) is not held while the rest of `status` reads the store.
 */
async function lookAtRun(run: RunConfig, warnings: string[]): Promise<{ progress: Progress; files: number }> {
  const entries = await scanRun(run).catch((err: NodeJS.ErrnoException) => {
    warnings.push(err.code === 'ENOENT' ? `the run folder ${run.path} does not exist yet` : `cannot read the run folder: ${err.message}`);
    return null;
  });
  if (entries === null) return { progress: NO_PROGRESS, files: 0 };
  const leftOut = leftOutOf(entries);
  if (leftOut.length > 0) warnings.push(`${leftOut.length} name(s) in the run cannot be captured and are left out of every snapshot: ${leftOut.map((l) => `${l.path} (${l.reason})`).join(', ')}`);
  return { progress: await readProgress(run.path, run.progress, runFilesOf(entries)), files: entries.length };
}
