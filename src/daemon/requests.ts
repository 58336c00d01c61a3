/**
 * How CLI commands reach a running daemon: a request file in `<store>/requests/`, answered by a
 * reply file next to it; a long operation (a restore) also keeps a progress file there up to date.
 * Files (not a socket) because a store path can be longer than a socket path may be, and because an
 * idle daemon then costs one inotify watch and nothing else.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { OpOutcome, StoreOp } from '../ops/types.js';
import { writeFileAtomic } from '../store/state-file.js';

export type DaemonRequest =
  | { id: string; type: 'backup-now'; created: string }
  | {
      id: string;
      type: 'snapshot';
      created: string;
      name: string | null;
      notes: string | null;
      pinned: boolean;
    }
  | { id: string; type: 'op'; created: string; op: StoreOp };

export interface DaemonReply {
  ok: boolean;
  /** The snapshot taken for the request. */
  snapshotId?: string;
  /** What an `op` request did. */
  outcome?: OpOutcome;
  error?: string;
  /** The exit code the CLI should use when `ok` is false. */
  exitCode?: number;
}

/** `<store>/requests`. */
export function requestsDir(store: string): string {
  return path.join(store, 'requests');
}

type NewRequest =
  | { type: 'backup-now' }
  | { type: 'snapshot'; name: string | null; notes: string | null; pinned: boolean }
  | { type: 'op'; op: StoreOp };

/** How often the daemon rewrites a request's progress file at most. */
const PROGRESS_EVERY_MS = 250;

/** Bytes done and in all of the operation a request asked for. */
export interface RequestProgress {
  done: number;
  total: number;
}

/**
 * Writes a request for the daemon that holds `store` and waits for its reply. Resolves with the
 * reply, or rejects once `timeoutMs` pass without a reply or any progress (the request is then
 * withdrawn so a late daemon ignores it). `onProgress` hears the progress the daemon reports.
 */
export async function sendRequest(store: string, req: NewRequest, timeoutMs: number, onProgress?: (done: number, total: number) => void): Promise<DaemonReply> {
  const dir = requestsDir(store);
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const full: DaemonRequest = { ...req, id, created: new Date().toISOString() } as DaemonRequest;
  const reqFile = path.join(dir, `${id}.request.json`);
  const replyFile = path.join(dir, `${id}.reply.json`);
  const progressFile = path.join(dir, `${id}.progress.json`);
  await writeFileAtomic(reqFile, JSON.stringify(full));
  let deadline = Date.now() + timeoutMs;
  let lastProgress = '';
  try {
    for (;;) {
      const text = await fsp.readFile(replyFile, 'utf8').catch(() => null);
      if (text !== null) return JSON.parse(text) as DaemonReply;
      const progress = await fsp.readFile(progressFile, 'utf8').catch(() => null);
      if (progress !== null && progress !== lastProgress) {
        lastProgress = progress;
        // A daemon that reports progress is at work: the wait is for silence, not for the whole job.
        deadline = Date.now() + timeoutMs;
        const p = parseProgress(progress);
        if (p) onProgress?.(p.done, p.total);
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not answer within ${Math.round(timeoutMs / 1000)}s`);
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    await fsp.rm(reqFile, { force: true });
    await fsp.rm(replyFile, { force: true });
    await fsp.rm(progressFile, { force: true });
  }
}

function parseProgress(text: string): RequestProgress | null {
  try {
    const v = JSON.parse(text) as Partial<RequestProgress>;
    return typeof v.done === 'number' && typeof v.total === 'number' ? { done: v.done, total: v.total } : null;
  } catch {
    return null;
  }
}

/** Parses a request file's text; returns null for anything that is not a well-formed request. */
export function parseRequest(text: string): DaemonRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(r.id) || typeof r.created !== 'string') return null;
  if (r.type === 'backup-now') return { id: r.id, type: 'backup-now', created: r.created };
  if (r.type === 'snapshot') {
    const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
    return {
      id: r.id,
      type: 'snapshot',
      created: r.created,
      name: str(r.name),
      notes: str(r.notes),
      pinned: r.pinned === true,
    };
  }
  if (r.type === 'op') {
    const op = parseOp(r.op);
    return op ? { id: r.id, type: 'op', created: r.created, op } : null;
  }
  return null;
}

/** A well-formed `StoreOp`, or null. Ids are checked again where they are used. */
export function parseOp(v: unknown): StoreOp | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const optText = (x: unknown): x is string | null | undefined => x === undefined || x === null || typeof x === 'string';
  if (o.kind === 'label' && typeof o.id === 'string' && optText(o.name) && optText(o.notes) && (o.pinned === undefined || typeof o.pinned === 'boolean')) {
    const op: StoreOp = { kind: 'label', id: o.id };
    if (o.name !== undefined) op.name = o.name;
    if (o.notes !== undefined) op.notes = o.notes;
    if (o.pinned !== undefined) op.pinned = o.pinned;
    return op;
  }
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((y) => typeof y === 'string');
  // `remote` must come through: a `restore --remote` read as a local restore would restore another snapshot.
  if (o.remote !== undefined && typeof o.remote !== 'boolean') return null;
  const remote = o.remote === true ? { remote: true } : {};
  if (o.kind === 'delete' && strings(o.ids) && typeof o.force === 'boolean') {
    return { kind: 'delete', ids: o.ids, force: o.force, ...remote };
  }
  if (o.kind === 'restore' && typeof o.id === 'string' && typeof o.force === 'boolean' && (o.to === null || typeof o.to === 'string')) {
    if (o.target !== undefined && typeof o.target !== 'string') return null;
    return { kind: 'restore', id: o.id, force: o.force, to: o.to, ...remote, ...(o.target === undefined ? {} : { target: o.target }) };
  }
  if (o.kind === 'prune') return { kind: 'prune' };
  if (o.kind === 'push' && strings(o.ids)) return { kind: 'push', ids: o.ids };
  if (o.kind === 'pull' && typeof o.id === 'string') return { kind: 'pull', id: o.id };
  return null;
}

/** Per requests folder, the request files taken up by a server of this process (see `serveRequests`). */
const seenIn = new Map<string, Set<string>>();

export interface RequestServer {
  close(): void;
}

/**
 * Daemon side: calls `handle` once for every request that appears in `<store>/requests/` (also
 * those already waiting at start) and writes its reply. A request it cannot read is answered with
 * an error (exit code 2) when its file name carries an id, else removed.
 * `handle` may report progress through its second argument; the requester sees the newest value
 * (one write per `PROGRESS_EVERY_MS` at most) until the reply is written. Its third says whether
 * the sender still waits (it removes its request when it gives up).
 */
export function serveRequests(
  store: string,
  handle: (req: DaemonRequest, progress: (done: number, total: number) => void, wanted: () => boolean) => Promise<DaemonReply>,
  onError: (err: Error) => void,
): RequestServer {
  const dir = requestsDir(store);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Shared by every server of this folder in this process: a server opened again (a config edit
  // re-watches the run) must not take up once more a request the one before it is still serving.
  let seen = seenIn.get(dir);
  if (seen === undefined) seenIn.set(dir, (seen = new Set<string>()));
  let closed = false;

  const pick = async (): Promise<void> => {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (err) {
      onError(err as Error);
      return;
    }
    // A request stays "seen" until its file is gone, so our own reply's event cannot re-run it.
    for (const name of seen) if (!names.includes(name)) seen.delete(name);
    for (const name of names) {
      if (!name.endsWith('.request.json') || seen.has(name)) continue;
      seen.add(name);
      const file = path.join(dir, name);
      const text = await fsp.readFile(file, 'utf8').catch(() => null);
      if (text === null) continue;
      const req = parseRequest(text);
      if (!req || `${req.id}.request.json` !== name) {
        // One this daemon cannot read (another ckptd version's) is answered, so its sender does not wait an hour.
        const id = name.slice(0, -'.request.json'.length);
        if (/^[a-z0-9-]{1,64}$/.test(id) && !closed) {
          const reply: DaemonReply = { ok: false, error: 'the running daemon does not understand this request (is it an older ckptd? restart it after upgrading)', exitCode: 2 };
          await writeFileAtomic(path.join(dir, `${id}.reply.json`), JSON.stringify(reply)).catch((err: unknown) => onError(err as Error));
        } else await fsp.rm(file, { force: true });
        continue;
      }
      const progress = progressWriter(path.join(dir, `${req.id}.progress.json`), () => !closed && fs.existsSync(file), onError);
      // Still wanted while its file is there: a sender that gave up removed it.
      void handle(req, progress.report, () => fs.existsSync(file))
        .catch((err: unknown) => ({ ok: false, error: (err as Error).message, exitCode: 1 }))
        .then(async (reply) => {
          await progress.end();
          // The CLI removes the request when it gives up; no reply is owed then. A server closed
          // meanwhile (a stop, a re-watch) still answers: its sender is waiting for this very reply.
          if (!fs.existsSync(file)) return;
          await writeFileAtomic(path.join(dir, `${req.id}.reply.json`), JSON.stringify(reply));
        })
        .catch((err: unknown) => onError(err as Error));
    }
  };

  const watcher = fs.watch(dir, () => void pick());
  watcher.on('error', (err) => onError(err));
  void pick();
  return {
    close: () => {
      closed = true;
      watcher.close();
    },
  };
}

/**
 * Keeps `file` holding the latest progress, at most one write per `PROGRESS_EVERY_MS` (one write in
 * flight at a time; the newest value wins), while `wanted()` (the request is still there). `end`
 * waits for the last write and removes the file.
 */
function progressWriter(file: string, wanted: () => boolean, onError: (err: Error) => void): { report: (done: number, total: number) => void; end: () => Promise<void> } {
  let latest: RequestProgress | null = null;
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let lastWrite = 0;
  let ended = false;
  const flush = (): void => {
    timer = null;
    const p = latest;
    if (p === null || ended || !wanted()) return;
    lastWrite = Date.now();
    writing = writing.then(() => writeFileAtomic(file, JSON.stringify(p))).catch((err: unknown) => onError(err as Error));
  };
  return {
    report: (done, total) => {
      latest = { done, total };
      if (timer !== null || ended) return;
      const wait = Math.max(0, lastWrite + PROGRESS_EVERY_MS - Date.now());
      if (wait === 0) flush();
      else timer = setTimeout(flush, wait);
    },
    end: async () => {
      ended = true;
      if (timer) clearTimeout(timer);
      await writing;
      await fsp.rm(file, { force: true }).catch(() => undefined);
    },
  };
}
