// @ts-check
/**
 * The panel's calls to its server. Every one of them, reads and the event stream included, carries
 * the access token in the `X-Ckptd-Token` header (the server refuses any API request without it);
 * no cookie is sent. The token comes from the URL's `#token=` (see token.js).
 */
import { connectEvents } from './event-stream.js';
import { takeToken } from './token.js';

const token = takeToken();
const auth = { 'X-Ckptd-Token': token };

/** True when the page has an access token (from its URL, or this tab's earlier visit). */
export function hasToken() {
  return token !== '';
}

/** An error the server answered with: its message, HTTP status and the CLI's exit code. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {number | null} exitCode
   */
  constructor(message, status, exitCode) {
    super(message);
    this.status = status;
    this.exitCode = exitCode;
  }
  /** True when the server did not take this page's access token (a restarted `ckptd ui` has a new one). */
  get unauthorized() {
    return this.status === 401;
  }
  /** True when it was refused for safety (the CLI's exit 3). */
  get refused() {
    return this.exitCode === 3;
  }
}

/**
 * @param {Response} res
 * @returns {Promise<any>}
 */
async function parse(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const message = body && typeof body.error === 'string' ? body.error : `${res.status} ${res.statusText}`;
    throw new ApiError(message, res.status, body && typeof body.exitCode === 'number' ? body.exitCode : null);
  }
  return body;
}

/**
 * GET a JSON document.
 * @param {string} path
 */
export async function get(path) {
  return parse(await fetch(path, { credentials: 'omit', headers: { Accept: 'application/json', ...auth } }));
}

/**
 * POST a JSON body; resolves with the JSON answer.
 * @param {string} path
 * @param {unknown} [body]
 */
export async function post(path, body = {}) {
  return parse(
    await fetch(path, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...auth },
      body: JSON.stringify(body),
    }),
  );
}

/**
 * The API path of a run (and of one of its records).
 * @param {string} run
 * @param {string} [id]
 */
export function runPath(run, id) {
  const base = `/api/runs/${encodeURIComponent(run)}`;
  return id === undefined ? base : `${base}/records/${encodeURIComponent(id)}`;
}

/**
 * Listens to the server's events. `onState` hears `live`, `reconnecting` (it retries by itself) or
 * `closed` (the server refused the stream, e.g. a restarted panel with a new token).
 * `runs` hears that the config's runs changed. Returns the close function.
 * @param {{records: (d: any) => void, op: (d: any) => void, runs: () => void, onState: (s: import('./event-stream.js').StreamState) => void}} handlers
 */
export function listen(handlers) {
  return connectEvents('/api/events', {
    headers: auth,
    onState: handlers.onState,
    onEvent: (e) => {
      if (e.type === 'records') handlers.records(JSON.parse(e.data));
      else if (e.type === 'op') handlers.op(JSON.parse(e.data));
      else if (e.type === 'runs') handlers.runs();
    },
  });
}
