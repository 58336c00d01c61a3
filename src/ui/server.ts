/**
 * The Version panel's HTTP server (`ckptd ui`): Node's `http` module on 127.0.0.1 only. Every
 * request passes `checkAccess` first (Host/Origin checks; the `X-Ckptd-Token` header on every API
 * request and the event stream); then it gets the page, one of its assets, a JSON API answer or the
 * event stream. The page and its assets carry no secret: the token reaches the page only in the
 * fragment of the URL `ckptd ui` prints. Errors are JSON `{error, exitCode}` with the CLI's exit
 * code: 400 bad request (2), 404 unknown run or record, 409 refused for safety (3), 500 failed (1).
 *
 * API (run = a run's name, id = a record id or unique prefix):
 *   GET  /api/runs                                  the config's runs
 *   GET  /api/runs/:run/records                     records (newest first, with own_bytes), store usage, daemon;
 *                                                   with a remote: each record's location, remote-only ones, the push
 *   GET  /api/runs/:run/records/:id/restore-preview files a restore would write and remove (local, else from the remote)
 *   GET  /api/runs/:run/records/:id/delete-preview  bytes freed, or why it is refused
 *   POST /api/runs/:run/snapshots                   {name?, notes?, pinned?}: a manual snapshot
 *   POST /api/runs/:run/records/:id/restore         {target?}: restore (progress on the event stream); a remote-only one from
 *                                                   the remote; refused (409) when the run's folder is no longer `target`
 *   POST /api/runs/:run/records/:id/pull            copy a remote-only snapshot into the local store (progress too)
 *   POST /api/runs/:run/records/:id/push            send a local record to the remote now (progress too)
 *   POST /api/runs/:run/records/:id/delete          delete
 *   POST /api/runs/:run/records/:id/labels          {name?, notes?, pinned?}
 *   GET  /api/events                                Server-Sent Events: `records`, `op`
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { withoutCredentials } from '../client/remote-status.js';
import { watchConfigFile } from '../config/watch-config-file.js';
import { pushQueueSignature } from '../store/push-queue-file.js';
import { readFailureNote } from '../store/failure-note.js';
import { CkptdError } from '../util/errors.js';
import { checkAccess, newAccessToken } from './access.js';
import { EventHub } from './event-stream.js';
import { NotFound, PanelApi, type LabelRequest, type RestoreRequest } from './panel-api.js';
import { findUiDir, loadAssets, type Asset } from './static-files.js';
import { watchStore } from './store-watch.js';

/** The only address the panel listens on. */
export const UI_HOST = '127.0.0.1';

export interface UiServerOptions {
  config: Config;
  /** 0 picks a free port. */
  port: number;
  /** The run the page shows first. */
  preferredRun?: string | null;
  /** Default: a fresh random token. */
  token?: string;
  /** Default: the package's `ui/` folder. */
  uiDir?: string;
  /** How often each store is re-read for changes fs.watch may miss (default 2 s). */
  pollMs?: number;
  /** How long reading a run's remote may take before the page gets the local list and a notice (default 5 s). */
  remoteTimeoutMs?: number;
  /** Hears each refused request (method, path, status and reason; never a token). */
  onRefused?: (line: string) => void;
  /**
   * Re-read `config.file` when it changes, so runs added, removed or changed show in the open
   * pages (a `runs` event); `onNotice` hears what happened, and why an edit was not applied.
   */
  followConfig?: boolean;
  onNotice?: (line: string) => void;
  /** A connection that has not sent a whole request head by then is closed (default 10 s). */
  headersTimeoutMs?: number;
}

/**
 * Connections kept at most: a page needs a handful. Anyone on the machine may connect (only what
 * they then ask is checked); past this, new connections wait in the kernel's queue instead of
 * taking the process's file descriptors, which a restore run from the panel needs.
 */
const MAX_CONNECTIONS = 128;

export interface UiServer {
  /** The URL to open, with the access token in its fragment (`http://127.0.0.1:PORT/#token=...`). */
  url: string;
  port: number;
  token: string;
  /** How many operations (snapshot, restore, delete, label) are running or queued. */
  pending(): number;
  /**
   * Stops accepting requests, waits for the operations in progress (a restore is not cut short),
   * then stops watching, ends every event stream and closes the server.
   */
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const MAX_BODY = 64 * 1024;

/** Starts the panel; resolves once it listens. */
export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const token = opts.token ?? newAccessToken();
  const assets = loadAssets(opts.uiDir ?? findUiDir());
  const hub = new EventHub();
  const api = new PanelApi(opts.config, hub, opts.preferredRun ?? null, opts.remoteTimeoutMs === undefined ? {} : { remoteTimeoutMs: opts.remoteTimeoutMs });
  let port = 0;

  // Node's defaults keep a connection that never finishes its head for a minute or more (checked
  // every 30 s), and any number of them.
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const server = http.createServer({ headersTimeout, requestTimeout: Math.max(headersTimeout, 60_000), connectionsCheckingInterval: Math.min(1_000, headersTimeout) }, (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  server.maxConnections = MAX_CONNECTIONS;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = checkAccess({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, port, token);
    if (!verdict.ok) {
      // Not read: a refused request's body (of any size) is left unread and its connection closed.
      res.setHeader('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
      // The path only: a query may hold a (wrong) token.
      const where = (req.url ?? '/').split('?')[0];
      opts.onRefused?.(`refused ${req.method} ${where} (${verdict.status}): ${verdict.reason}`);
      if ((req.url ?? '/').startsWith('/api/')) return sendJson(res, verdict.status, { error: verdict.reason });
      res.writeHead(verdict.status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${http.STATUS_CODES[verdict.status]}: ${verdict.reason}\n`);
      return;
    }
    const url = new URL(req.url ?? '/', `http://${UI_HOST}:${port}`);
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith('/api/')) {
      if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 405, { error: `${method} is not allowed here` });
      const asset = assets.get(url.pathname);
      if (!asset) return sendJson(res, 404, { error: `no such page: ${url.pathname}` });
      return sendAsset(res, asset, method === 'HEAD');
    }
    if (url.pathname === '/api/events' && method === 'GET') return hub.attach(req, res);
    if (url.pathname === '/api/runs' && method === 'GET') return sendJson(res, 200, api.runs());

    const m = /^\/api\/runs\/([a-z0-9._-]+)\/(records|snapshots)(?:\/([0-9a-z-]+)(?:\/([a-z-]+))?)?$/.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: `no such API: ${method} ${url.pathname}` });
    const [, run, collection, id, action] = m as unknown as [string, string, string, string | undefined, string | undefined];
    if (method === 'GET' && collection === 'records' && id === undefined) return sendJson(res, 200, await api.records(run));
    if (method === 'GET' && collection === 'records' && id !== undefined && action === 'restore-preview') return sendJson(res, 200, await api.restorePreview(run, id));
    if (method === 'GET' && collection === 'records' && id !== undefined && action === 'delete-preview') return sendJson(res, 200, await api.deletePreview(run, id));
    if (method === 'POST') {
      const body = (await readJsonBody(req)) as LabelRequest & RestoreRequest;
      if (collection === 'snapshots' && id === undefined) return sendJson(res, 201, await api.snapshot(run, body));
      if (collection === 'records' && id !== undefined && action === 'restore') return sendJson(res, 200, await api.restore(run, id, body));
      if (collection === 'records' && id !== undefined && action === 'pull') return sendJson(res, 200, await api.pull(run, id));
      if (collection === 'records' && id !== undefined && action === 'push') return sendJson(res, 200, await api.push(run, id));
      if (collection === 'records' && id !== undefined && action === 'delete') return sendJson(res, 200, await api.delete(run, id));
      if (collection === 'records' && id !== undefined && action === 'labels') return sendJson(res, 200, await api.label(run, id, body));
    }
    return sendJson(res, 404, { error: `no such API: ${method} ${url.pathname}` });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, UI_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  // One store watch per run, by name and store: a run whose store moved is watched afresh.
  const storeWatches = new Map<string, () => void>();
  const watchStores = (config: Config): void => {
    const wanted = new Map(config.runs.map((run) => [`${run.name}\0${run.store}\0${run.remote?.url ?? ''}`, run]));
    for (const [key, stop] of storeWatches) {
      if (wanted.has(key)) continue;
      stop();
      storeWatches.delete(key);
    }
    for (const [key, run] of wanted) {
      if (storeWatches.has(key)) continue;
      // The daemon's failing backups beside the store too, and with a remote its push queue (queued, sending, pushed, failed).
      const also = async (): Promise<string> =>
        `${JSON.stringify(await readFailureNote(run.store))}\n${run.remote === null ? '' : await pushQueueSignature(run.store)}`;
      storeWatches.set(key, watchStore(run.store, () => hub.send({ type: 'records', run: run.name }), { pollMs: opts.pollMs ?? 2000, also }));
    }
  };
  watchStores(opts.config);
  // Follows the config file as the daemon does; a re-read that changes no run changes nothing here.
  let runsNow = JSON.stringify(opts.config.runs);
  const file = opts.config.file;
  const applyEdit = (file: string): void => {
    let next: Config;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      opts.onNotice?.(`config edit not applied, the panel keeps the runs it had: ${(err as Error).message}`);
      return;
    }
    if (JSON.stringify(next.runs) === runsNow) return;
    runsNow = JSON.stringify(next.runs);
    api.setConfig(next);
    watchStores(next);
    hub.send({ type: 'runs' });
    opts.onNotice?.(`${file} changed: the panel shows ${next.runs.length} run(s) (${next.runs.map((r) => r.name).join(', ')})`);
  };
  const stopFollowing =
    opts.followConfig && file ? watchConfigFile(file, () => applyEdit(file), (err) => opts.onNotice?.(`cannot watch ${file}: ${err.message}`)) : null;

  return {
    url: `http://${UI_HOST}:${port}/#token=${token}`,
    port,
    token,
    pending: () => api.pending,
    async close() {
      server.close();
      await api.idle();
      await stopFollowing?.();
      for (const stop of storeWatches.values()) stop();
      hub.close();
      server.closeAllConnections();
    },
  };
}

function sendAsset(res: ServerResponse, asset: Asset, headOnly: boolean): void {
  res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length });
  res.end(headOnly ? undefined : asset.body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // Every answer, a remote's error messages included, reaches the page without a credential in it.
  const body = Buffer.from(withoutCredentials(JSON.stringify(value)));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}

/** Maps an error to its HTTP status, with the CLI's exit code beside the message. */
function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err as Error;
  const exitCode = err instanceof CkptdError ? err.exitCode : 1;
  const status = err instanceof NotFound ? 404 : err instanceof BadBody ? 400 : exitCode === 2 ? 400 : exitCode === 3 ? 409 : 500;
  // The rest of that body is never read: the connection ends with this answer, which says so.
  if (err instanceof BodyTooLarge) res.setHeader('Connection', 'close');
  sendJson(res, status, { error: e.message ?? String(err), exitCode: err instanceof NotFound ? 2 : exitCode });
}

class BadBody extends CkptdError {
  override readonly exitCode = 2;
}

class BodyTooLarge extends BadBody {}

/** Reads a JSON object body (UTF-8) of at most 64 KB (an empty body is `{}`). */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BodyTooLarge(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new BadBody('send the request body as application/json');
  let text: string;
  try {
    // Fatal: bytes of another encoding are refused, never stored as U+FFFD in a name or notes.
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadBody('the request body is not UTF-8: send JSON in UTF-8');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new BadBody(`the request body is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadBody('the request body must be a JSON object');
  return v as Record<string, unknown>;
}
