/**
 * Who may talk to the Version panel (`ckptd ui`). The server listens on 127.0.0.1 only, and every
 * request must also prove it comes from the person who started it:
 *
 * - The URL the command prints carries a random access token (`/?token=...`, 32 random bytes). The
 *   first visit with the right token gets it as an `HttpOnly; SameSite=Strict` cookie and is sent on
 *   to `/`, so the token leaves the address bar and the history. (That visit may come from a link on
 *   another site: a wrong token gets nothing, and the right one proves who it is.)
 * - Every other request (the page, its assets, the API, the event stream) needs that cookie.
 * - Requests that change something (any method but GET/HEAD) also need the token in the
 *   `X-Ckptd-Token` header, which the page reads from its own HTML: another site can neither read
 *   that page nor send a custom header without a CORS preflight, which this server never grants.
 * - `Host` must be `127.0.0.1:PORT` or `localhost:PORT` (a DNS-rebinding page sends its own host
 *   name), and `Origin` and `Sec-Fetch-Site`, when the browser sends them, must say same origin.
 *
 * Pure functions of the request's method, URL and headers, so the rules are tested without a server.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The header that state-changing requests must carry (with the access token). */
export const TOKEN_HEADER = 'x-ckptd-token';

/** A fresh access token: 32 random bytes, base64url (43 characters). */
export function newAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The cookie's name. Browsers share cookies across the ports of one host, so the port is part of
 * the name: two panels on different ports do not overwrite each other's cookie.
 */
export function cookieName(port: number): string {
  return `ckptd_ui_${port}`;
}

/** The `Set-Cookie` value the first visit with the right token receives. */
export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** The origins the page may be served from. */
export function allowedOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

export interface AccessRequest {
  method: string;
  /** The request target as sent (`/api/runs?x=1`). */
  url: string;
  headers: IncomingHttpHeaders;
}

export type AccessVerdict =
  | { ok: true }
  /** The right token in the URL: set the cookie and send the browser on to `location` (`/`). */
  | { ok: true; setCookie: string; location: string }
  | { ok: false; status: 401 | 403; reason: string };

/** Compares two secrets in constant time (their sha256, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(a), h(b));
}

/** Reads one cookie from a `Cookie` header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** A header's value as the log may show it: printable ASCII only, so a client cannot write terminal escapes (C1 controls such as 0x9b) into it. */
function printable(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?');
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Decides whether `req` may proceed on the panel listening on `port` with access token `token`.
 * 403: the request comes from the wrong place (Host, Origin, Sec-Fetch-Site) or changes something
 * without the header; 401: it does not carry the token.
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
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null && req.method === 'GET' && url.pathname === '/') {
    if (!sameSecret(fromUrl, token)) return { ok: false, status: 401, reason: 'wrong access token' };
    return { ok: true, setCookie: sessionCookie(port, token), location: '/' };
  }
  const site = one(req.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { ok: false, status: 403, reason: `${printable(site)} request refused` };
  }

  const cookie = readCookie(one(req.headers.cookie), cookieName(port));
  if (cookie === null || !sameSecret(cookie, token)) {
    return { ok: false, status: 401, reason: 'no access token: open the URL that `ckptd ui` printed' };
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const header = one(req.headers[TOKEN_HEADER]);
    if (header === undefined || !sameSecret(header, token)) {
      return { ok: false, status: 403, reason: `a request that changes something needs the ${TOKEN_HEADER} header` };
    }
  }
  return { ok: true };
}
