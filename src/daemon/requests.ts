/**
 * How CLI commands reach a running daemon: a request file in `<store>/requests/`, answered by a
 * reply file next to it. Files (not a socket) because a store path can be longer than a socket
 * path may be, and because an idle daemon then costs one inotify watch and nothing else.
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

/**
 * Writes a request for the daemon that holds `store` and waits for its reply. Resolves with the
 * reply, or rejects after `timeoutMs` (the request is then withdrawn so a late daemon ignores it).
 */
export async function sendRequest(store: string, req: NewRequest, timeoutMs: number): Promise<DaemonReply> {
  const dir = requestsDir(store);
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const full: DaemonRequest = { ...req, id, created: new Date().toISOString() } as DaemonRequest;
  const reqFile = path.join(dir, `${id}.request.json`);
  const replyFile = path.join(dir, `${id}.reply.json`);
  await writeFileAtomic(reqFile, JSON.stringify(full));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const text = await fsp.readFile(replyFile, 'utf8').catch(() => null);
      if (text !== null) return JSON.parse(text) as DaemonReply;
      if (Date.now() > deadline) throw new Error(`the daemon did not answer within ${Math.round(timeoutMs / 1000)}s`);
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    await fsp.rm(reqFile, { force: true });
    await fsp.rm(replyFile, { force: true });
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
  if (o.kind === 'delete' && Array.isArray(o.ids) && o.ids.every((x) => typeof x === 'string') && typeof o.force === 'boolean') {
    return { kind: 'delete', ids: o.ids as string[], force: o.force };
  }
  if (o.kind === 'restore' && typeof o.id === 'string' && typeof o.force === 'boolean' && (o.to === null || typeof o.to === 'string')) {
    return { kind: 'restore', id: o.id, force: o.force, to: o.to };
  }
  if (o.kind === 'prune') return { kind: 'prune' };
  return null;
}

export interface RequestServer {
  close(): void;
}

/**
 * Daemon side: calls `handle` once for every request that appears in `<store>/requests/` (also
 * those already waiting at start) and writes its reply. Malformed request files are removed.
 */
export function serveRequests(
  store: string,
  handle: (req: DaemonRequest) => Promise<DaemonReply>,
  onError: (err: Error) => void,
): RequestServer {
  const dir = requestsDir(store);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const seen = new Set<string>();
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
        await fsp.rm(file, { force: true });
        continue;
      }
      void handle(req)
        .catch((err: unknown) => ({ ok: false, error: (err as Error).message, exitCode: 1 }))
        .then(async (reply) => {
          // The CLI removes the request when it gives up; no reply is owed then.
          if (closed || !fs.existsSync(file)) return;
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
