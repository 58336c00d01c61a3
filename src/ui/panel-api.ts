/**
 * What the Version panel can ask for and do, per run of the config. Every change goes through the
 * same code as the CLI — `takeManualSnapshot` for a new snapshot, `runStoreOp` for restore, delete
 * and labels — so it goes through the daemon when one holds the store and runs here under the store
 * lock otherwise, with the same refusals (a `SafetyError` is the CLI's exit 3). Operations on one
 * store are run one at a time, a run renamed meanwhile included (the panel never races itself for
 * the store lock); each one is
 * announced on the event stream as it starts, progresses and ends.
 */
import type { Config, RunConfig } from '../config/types.js';
import { listRecordsAndUsage, type ListedRecord } from '../client/list.js';
import { placeRecords, readRemoteWithin, type PlacedRecord } from '../client/list-remote.js';
import { remoteStatus, type RemoteStatus } from '../client/remote-status.js';
import { runStoreOp } from '../client/store-op.js';
import { daemonHolds } from '../client/one-shot.js';
import { describeFailing } from '../client/failing.js';
import { readFailureNote } from '../store/failure-note.js';
import { checkLabel, takeManualSnapshot } from '../client/snapshot.js';
import { createCliLogger } from '../client/cli-logger.js';
import { isDamaged, planDelete } from '../ops/delete.js';
import { previewRestore } from '../ops/restore.js';
import type { StoreOp } from '../ops/types.js';
import { storeOf } from '../store/local-store.js';
import { resolveAmong } from '../store/record-shape.js';
import type { RecordMeta } from '../store/types.js';
import { CkptdError, SafetyError, UsageError } from '../util/errors.js';
import type { EventHub } from './event-stream.js';

export interface RunsReply {
  runs: { name: string; path: string; store: string }[];
  /** The run to show first (`--run` while the config has it, else the first). */
  selected: string | null;
}

export interface RecordsReply {
  run: { name: string; path: string; store: string };
  /** True when a daemon holds the store (changes then go through it). */
  daemon: boolean;
  usage: { records: number; disk_bytes: number; apparent_bytes: number };
  /** Newest first; each carries `location` (local, remote or both) when the run has a remote. */
  records: (ListedRecord | PlacedRecord)[];
  /** The run's remote (SPEC section 8), or null when it has none. */
  remote: RemoteReply | null;
  /** While the daemon's backups keep failing: since when, the error, the next try (as `ckptd status` warns); else null. */
  failing: string | null;
}

/** The run's remote as the panel shows it: never an endpoint's secret or a credential. */
export interface RemoteReply {
  url: string;
  /** False when its records could not be read in time: the list then shows the local ones only. */
  reachable: boolean;
  /** `remote unreachable: <reason>`, or null. */
  notice: string | null;
  /** The push queue: queued, being sent, last pushed, the newest error. */
  push: RemoteStatus;
}

export interface RestorePreview {
  record: Omit<RecordMeta, 'files'> & { file_count: number };
  /** Where the files come from: the local store, or the run's remote (a snapshot only there). */
  from: 'local' | 'remote';
  target: string;
  write: { path: string; size: number }[];
  write_bytes: number;
  remove: { path: string; size: number }[];
  /** Files whose metadata match: hashed during the restore, written only if their bytes differ. */
  same: number;
}

export interface DeletePreview {
  record: Omit<RecordMeta, 'files'> & { file_count: number };
  freed_bytes: number;
  /** Why the CLI would refuse this deletion without --force, or null. */
  refused: string | null;
}

/** A restore request: `target` is the folder the page's preview showed (restore is refused if the run's folder is another now). */
export interface RestoreRequest {
  target?: unknown;
}

/** Label fields a request may set; absent ones stay as they are. */
export interface LabelRequest {
  name?: unknown;
  notes?: unknown;
  pinned?: unknown;
}

export interface PanelApiOptions {
  /** How long reading a run's remote may take before the panel answers without it (default 5 s). */
  remoteTimeoutMs?: number;
}

/** A record and where the panel reads it from. */
interface Found {
  meta: RecordMeta;
  from: 'local' | 'remote';
}

export class PanelApi {
  private readonly queues = new Map<string, Promise<unknown>>();
  private inFlight = 0;
  private readonly remoteTimeoutMs: number;

  constructor(
    private config: Config,
    private readonly hub: EventHub,
    private readonly preferredRun: string | null = null,
    opts: PanelApiOptions = {},
  ) {
    this.remoteTimeoutMs = opts.remoteTimeoutMs ?? 5000;
  }

  /** From now on, answers from `next` (the config file was edited); operations under way keep their run. */
  setConfig(next: Config): void {
    this.config = next;
  }

  /** The config's runs. */
  runs(): RunsReply {
    const runs = this.config.runs.map((r) => ({ name: r.name, path: r.path, store: r.store }));
    // `--run` only while the config still has it: an edit may rename or remove it.
    const selected = runs.find((r) => r.name === this.preferredRun)?.name ?? runs[0]?.name ?? null;
    return { runs, selected };
  }

  /** The run named `name`; otherwise a `NotFound` (HTTP 404) that names the config's runs. */
  run(name: string): RunConfig {
    const run = this.config.runs.find((r) => r.name === name);
    if (!run) throw new NotFound(`no run named "${name}"; the config's runs are: ${this.config.runs.map((r) => r.name).join(', ')}`);
    return run;
  }

  /**
   * Every snapshot and save of the run (newest first, with `own_bytes`), the store's usage and whether
   * a daemon runs. With a remote: each record's `location`, the remote-only records too, and the push
   * status; a remote that does not answer within `remoteTimeoutMs` leaves the local list and a notice.
   */
  async records(name: string): Promise<RecordsReply> {
    const run = this.run(name);
    const [{ records: local, usage }, daemon, reading] = await Promise.all([
      listRecordsAndUsage(run, undefined),
      daemonHolds(run),
      run.remote === null ? null : readRemoteWithin(run, this.remoteTimeoutMs),
    ]);
    const failing = daemon ? await readFailureNote(run.store) : null;
    const reply = {
      run: { name: run.name, path: run.path, store: run.store },
      daemon,
      failing: failing === null ? null : describeFailing(failing, Date.now()),
      usage: { records: usage.records, disk_bytes: usage.diskBytes, apparent_bytes: usage.apparentBytes },
    };
    if (run.remote === null || reading === null) return { ...reply, records: local, remote: null };
    return {
      ...reply,
      records: placeRecords(local, reading.ok ? reading.records : null),
      remote: {
        url: run.remote.url,
        reachable: reading.ok,
        notice: reading.ok ? null : `remote unreachable: ${reading.reason}`,
        push: (await remoteStatus(run, local))!,
      },
    };
  }

  /** What restoring `id` (local, else from the remote) would write and remove in the run, for the confirmation dialog. */
  async restorePreview(name: string, id: string): Promise<RestorePreview> {
    const run = this.run(name);
    const { meta, from } = await this.find(run, id);
    if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save (an exported model file), not a snapshot; its file is at ${meta.path}`);
    const plan = await previewRestore(run, meta).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return { write: meta.files, confirm: [], remove: [] };
      throw err;
    });
    return {
      record: summary(meta),
      from,
      target: run.path,
      write: plan.write.map((f) => ({ path: f.path, size: f.size })),
      write_bytes: plan.write.reduce((n, f) => n + f.size, 0),
      remove: plan.remove.map((f) => ({ path: f.path, size: f.size })),
      same: plan.confirm.length,
    };
  }

  /** What deleting `id` alone frees, and whether the last-good-snapshot rule refuses it. */
  async deletePreview(name: string, id: string): Promise<DeletePreview> {
    const run = this.run(name);
    const meta = await this.resolve(run, id);
    try {
      const plan = await planDelete(run.store, [meta.id], false);
      return { record: summary(meta), freed_bytes: plan.freedBytes, refused: null };
    } catch (err) {
      if (!(err instanceof SafetyError)) throw err;
      return { record: summary(meta), freed_bytes: 0, refused: err.message };
    }
  }

  /** Takes a manual snapshot (waits for the run to settle, as `ckptd snapshot` does). */
  async snapshot(name: string, body: LabelRequest): Promise<{ id: string; via_daemon: boolean }> {
    const run = this.run(name);
    const label = {
      name: checkLabel('name', optionalText(body.name, 'name') ?? undefined, 'name'),
      notes: checkLabel('notes', optionalText(body.notes, 'notes') ?? undefined, 'notes') || null,
      pinned: optionalBool(body.pinned, 'pinned') ?? false,
    };
    return this.announce(run, 'snapshot', null, async () => {
      const r = await takeManualSnapshot(run, label, createCliLogger({ verbose: process.stderr.isTTY === true }));
      return { id: r.id, via_daemon: r.viaDaemon, message: `snapshot ${r.id} taken` };
    });
  }

  /**
   * Restores snapshot `id` into the run, after a pre-restore snapshot; refused (SafetyError) while the
   * trainer writes, or when `verify` marked the snapshot damaged (the CLI needs --force for both).
   * A snapshot only on the run's remote is restored from there (`ckptd restore ID --remote`).
   * With `target` (the folder the preview showed), refused when the run, by the config file edited
   * since, has another folder where the restore runs: it never writes a folder the person did not confirm.
   */
  async restore(name: string, id: string, body: RestoreRequest = {}): Promise<Record<string, unknown>> {
    const run = this.run(name);
    const target = optionalText(body.target, 'target') ?? undefined;
    const { meta, from } = await this.find(run, id);
    if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save (an exported model file), not a snapshot; its file is at ${meta.path}`);
    if (isDamaged(meta)) {
      throw new SafetyError(`snapshot ${meta.id} is marked damaged by verify; restore it from the command line with --force only if you know what you need from it`);
    }
    // Checked where the restore runs (here, or in the daemon with the config it has read).
    const confirmed = target === undefined ? {} : { target };
    return this.runOp(run, { kind: 'restore', id: meta.id, force: false, to: null, ...(from === 'remote' ? { remote: true } : {}), ...confirmed });
  }

  /** Copies snapshot `id`, only on the run's remote, into the local store (`ckptd pull ID`), verified. */
  async pull(name: string, id: string): Promise<Record<string, unknown>> {
    const run = this.run(name);
    const { meta, from } = await this.find(run, id);
    if (from === 'local') throw new UsageError(`${meta.id} is in the local store already`);
    if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save; pull copies snapshots (restore a save's file with \`ckptd restore ${meta.id} --remote --to DIR\`)`);
    return this.runOp(run, { kind: 'pull', id: meta.id });
  }

  /** Sends local record `id` to the run's remote now (`ckptd push ID`); one already there is left as it is. */
  async push(name: string, id: string): Promise<Record<string, unknown>> {
    const run = this.run(name);
    if (run.remote === null) throw new UsageError(`run ${run.name} has no remote: add a remote: section (url: s3://BUCKET/PREFIX) to the config`);
    const meta = await this.resolve(run, id);
    return this.runOp(run, { kind: 'push', ids: [meta.id] });
  }

  /** Deletes one snapshot or save (never the last good snapshot: that needs the CLI's --force). */
  async delete(name: string, id: string): Promise<Record<string, unknown>> {
    const run = this.run(name);
    const meta = await this.resolve(run, id);
    return this.runOp(run, { kind: 'delete', ids: [meta.id], force: false });
  }

  /** Renames, re-notes, pins or unpins (`""` or null clears a name or notes). */
  async label(name: string, id: string, body: LabelRequest): Promise<Record<string, unknown>> {
    const run = this.run(name);
    const meta = await this.resolve(run, id);
    const op: StoreOp = { kind: 'label', id: meta.id };
    const newName = optionalText(body.name, 'name');
    const newNotes = optionalText(body.notes, 'notes');
    if (newName !== undefined) op.name = newName === null ? null : checkLabel('name', newName, 'name');
    if (newNotes !== undefined) op.notes = newNotes === null ? null : checkLabel('notes', newNotes, 'notes') || null;
    const pinned = optionalBool(body.pinned, 'pinned');
    if (pinned !== undefined) op.pinned = pinned;
    if (op.name === undefined && op.notes === undefined && op.pinned === undefined) throw new UsageError('nothing to change: give name, notes or pinned');
    return this.runOp(run, op);
  }

  private async resolve(run: RunConfig, id: string): Promise<RecordMeta> {
    try {
      return await storeOf(run.store).resolve(id);
    } catch (err) {
      throw new NotFound((err as Error).message);
    }
  }

  /** Record `id` of the local store, else of the run's remote (read within `remoteTimeoutMs`). */
  private async find(run: RunConfig, id: string): Promise<Found> {
    let localMiss: unknown;
    try {
      return { meta: await storeOf(run.store).resolve(id), from: 'local' };
    } catch (err) {
      if (run.remote === null) throw new NotFound((err as Error).message);
      localMiss = err;
    }
    const reading = await readRemoteWithin(run, this.remoteTimeoutMs);
    if (!reading.ok) throw new CkptdError(`${(localMiss as Error).message}, and the remote is unreachable: ${reading.reason}`);
    try {
      return { meta: resolveAmong(reading.records, id, run.remote.url), from: 'remote' };
    } catch (err) {
      throw new NotFound(`${(localMiss as Error).message}; on the remote: ${(err as Error).message}`);
    }
  }

  private runOp(run: RunConfig, op: StoreOp): Promise<Record<string, unknown>> {
    const id = op.kind === 'delete' || op.kind === 'push' ? (op.ids[0] ?? null) : op.kind === 'prune' ? null : op.id;
    return this.announce(run, op.kind, id, async () => {
      let lastSent = 0;
      const progress = (done: number, total: number): void => {
        const now = Date.now();
        if (now - lastSent < 150 && done < total) return;
        lastSent = now;
        this.hub.send({ type: 'op', run: run.name, op: op.kind, id, state: 'progress', done, total });
      };
      const r = await runStoreOp(run, op, false, progress);
      return { ...r.data, message: r.message, via_daemon: r.viaDaemon };
    });
  }

  /** How many operations are running or queued. */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves when every operation started so far has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.catch(() => undefined)));
  }

  /** Runs `work` after the earlier operations on the run's store, telling every page when it starts and ends. */
  private announce<T extends { message: string }>(run: RunConfig, op: string, id: string | null, work: () => Promise<T>): Promise<T> {
    // By store, not name: a run renamed meanwhile keeps its store, and its lock.
    const prev = this.queues.get(run.store) ?? Promise.resolve();
    this.inFlight++;
    const next = prev.catch(() => undefined).then(async () => {
      this.hub.send({ type: 'op', run: run.name, op, id, state: 'started' });
      try {
        const r = await work();
        this.hub.send({ type: 'op', run: run.name, op, id, state: 'done', message: r.message });
        return r;
      } catch (err) {
        this.hub.send({ type: 'op', run: run.name, op, id, state: 'failed', message: (err as Error).message });
        throw err;
      } finally {
        this.inFlight--;
        // The watcher would see the change too; telling at once makes the page feel immediate.
        this.hub.send({ type: 'records', run: run.name });
      }
    });
    this.queues.set(run.store, next);
    return next;
  }
}

/** A run or record that does not exist (HTTP 404). */
export class NotFound extends CkptdError {
  override readonly name = 'NotFound';
}

function summary(meta: RecordMeta): Omit<RecordMeta, 'files'> & { file_count: number } {
  const { files, ...rest } = meta;
  return { ...rest, file_count: files.length };
}

/** true, false or undefined (leave as is); anything else is a usage error. */
function optionalBool(v: unknown, what: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new UsageError(`${what} must be true or false`);
}

/** A string, null (clear) or undefined (leave as is); anything else is a usage error. */
function optionalText(v: unknown, what: string): string | null | undefined {
  if (v === undefined || v === null || typeof v === 'string') return v;
  throw new UsageError(`${what} must be a string`);
}
