// @ts-check
/**
 * The panel's calls to its server. The session cookie goes with every request by itself; requests
 * that change something also carry the access token in `X-Ckptd-Token`, read from the page's own
 * `<meta name="ckptd-token">` (which only a page of this origin can read).
 */

const token = document.querySelector('meta[name="ckptd-token"]')?.getAttribute('content') ?? '';

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
  return parse(await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } }));
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
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Ckptd-Token': token },
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
 * Listens to the server's events. `onState` hears `live`, `reconnecting` (the browser retries by
 * itself) or `closed` (the server refused the stream, e.g. a restarted panel with a new token).
 * Returns the close function.
 * `runs` hears that the config's runs changed.
 * @param {{records: (d: any) => void, op: (d: any) => void, runs: () => void, onState: (s: 'live' | 'reconnecting' | 'closed') => void}} handlers
 */
export function listen(handlers) {
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => handlers.onState('live'));
  es.addEventListener('error', () => handlers.onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  es.addEventListener('records', (e) => handlers.records(JSON.parse(/** @type {MessageEvent} */ (e).data)));
  es.addEventListener('op', (e) => handlers.op(JSON.parse(/** @type {MessageEvent} */ (e).data)));
  es.addEventListener('runs', () => handlers.runs());
  return () => es.close();
}
