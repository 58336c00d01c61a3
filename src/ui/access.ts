/**
 * Who may talk to the Version panel (`ckptd ui`). The server listens on 127.0.0.1 only, where every
 * user of the machine can connect, so every request must also prove it comes from the person who
 * started it:
 *
 * - The URL the command prints carries a random access token after `#` (`/#token=...`, 32 random
 *   bytes). A fragment is never sent to any server, nor put in a Referer or a server log. The page
 *   reads it, keeps it in `sessionStorage` (per tab and per origin, and the origin includes the
 *   port: no page served from another port of 127.0.0.1 sees it) and drops it from the address bar.
 * - Every API request and the event stream (reads too) need the token in the `X-Ckptd-Token`
 *   header. No cookie is set or read: browsers send a 127.0.0.1 cookie to every port of the host,
 *   so any local user's web server the browser visits would receive it. Another site can neither
 *   read the page's storage nor send a custom header without a CORS preflight, which this server
 *   never grants.
 * - The page's own files (`GET /` and `/assets/...`) hold no secret and are served without the
 *   token. `/` may be opened from anywhere (a link, the `--open` launch file); its assets only from
 *   the page itself.
 * - A `token` in the query (the URL form before the fragment) is refused without being looked at,
 *   with a message naming the URL to open: a query lands in the browser's history and in logs, so a
 *   redirect to the fragment URL would keep teaching that form.
 * - `Host` must be `127.0.0.1:PORT` or `localhost:PORT` (a DNS-rebinding page sends its own host
 *   name; on port 80 a browser sends `127.0.0.1` or `localhost` alone, accepted there only), and
 *   `Origin` and `Sec-Fetch-Site`, when the browser sends them, must say same origin.
 *
 * Pure functions of the request's method, URL and headers, so the rules are tested without a server.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The header every API request must carry, with the access token as its value. */
export const TOKEN_HEADER = 'x-ckptd-token';

/** A fresh access token: 32 random bytes, base64url (43 characters). */
export function newAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/** HTTP's default port: browsers leave it out of the Host they send and of the origin they name. */
const HTTP_DEFAULT_PORT = 80;

/**
 * The origins the page may be served from (and the Hosts, after `http://`): 127.0.0.1 and
 * localhost at `port`; on port 80 also without the port, as a browser writes them there.
 */
export function allowedOrigins(port: number): string[] {
  const hosts = ['127.0.0.1', 'localhost'];
  const origins = hosts.map((h) => `http://${h}:${port}`);
  return port === HTTP_DEFAULT_PORT ? [...origins, ...hosts.map((h) => `http://${h}`)] : origins;
}

export interface AccessRequest {
  method: string;
  /** The request target as sent (`/api/runs?x=1`). */
  url: string;
  headers: IncomingHttpHeaders;
}

export type AccessVerdict = { ok: true } | { ok: false; status: 400 | 401 | 403; reason: string };

/** Compares two secrets in constant time (their sha256, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(a), h(b));
}

/** A header's value as the log may show it: printable ASCII only, so a client cannot write terminal escapes (C1 controls such as 0x9b) into it. */
function printable(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?');
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Where a refusal for a missing or wrong token sends the person. */
const OPEN_PRINTED_URL = 'open the URL that `ckptd ui` printed';

/**
 * Decides whether `req` may proceed on the panel listening on `port` with access token `token`.
 * 400: a token in the query; 403: the request comes from the wrong place (Host, Origin,
 * Sec-Fetch-Site); 401: an API request (or any but GET/HEAD) without the right token header.
 */
export function checkAccess(req: AccessRequest, port: number, token: string): AccessVerdict {
  const host = one(req.headers.host);
  if (host === undefined || !allowedOrigins(port).includes(`http://${host.toLowerCase()}`)) {
    return { ok: false, status: 403, reason: `unexpected Host ${JSON.stringify(printable(host ?? ''))}: the panel answers only to 127.0.0.1:${port}` };
  }
  const origin = one(req.headers.origin);
  if (origin !== undefined && !allowedOrigins(port).includes(origin.toLowerCase())) {
    return { ok: false, status: 403, reason: `cross-origin request from ${JSON.stringify(printable(origin))} refused` };
  }
  const url = new URL(req.url, `http://${host}`);
  if (url.searchParams.has('token')) {
    return { ok: false, status: 400, reason: `the access token goes after # in the URL (/#token=...), never in its query: ${OPEN_PRINTED_URL}` };
  }
  const read = req.method === 'GET' || req.method === 'HEAD';
  const site = one(req.headers['sec-fetch-site']);
  // Opening the page from another site or a file is harmless: it holds no secret, and reads the
  // token only from its own URL's fragment.
  const anySite = read && url.pathname === '/';
  if (site !== undefined && site !== 'same-origin' && site !== 'none' && !anySite) {
    return { ok: false, status: 403, reason: `${printable(site)} request refused` };
  }
  if (read && !url.pathname.startsWith('/api/')) return { ok: true };

  const header = one(req.headers[TOKEN_HEADER]);
  if (header === undefined || !sameSecret(header, token)) {
    return { ok: false, status: 401, reason: `no access token in the ${TOKEN_HEADER} header: ${OPEN_PRINTED_URL}` };
  }
  return { ok: true };
}
