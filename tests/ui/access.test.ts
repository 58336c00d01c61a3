/**
 * The Version panel's access rules, request by request: the page's own files after the Host /
 * Origin / Sec-Fetch-Site checks only; the API and the event stream only with the token in the
 * `X-Ckptd-Token` header (a cookie counts for nothing: browsers send a 127.0.0.1 cookie to every
 * port of the host); the old `?token=` URL refused without looking at its token. Each row names the
 * rule it exercises; the `ok` rows show each refusal is that rule's.
 */
import { describe, expect, it } from 'vitest';
import { checkAccess, newAccessToken, sameSecret } from '../../src/ui/access.js';

const PORT = 4321;
const TOKEN = newAccessToken();
const host = `127.0.0.1:${PORT}`;
const origin = `http://127.0.0.1:${PORT}`;
const header = { 'x-ckptd-token': TOKEN };
/** What a browser sends along by itself to every port of 127.0.0.1, had the panel ever set it. */
const cookie = `ckptd_ui_${PORT}=${TOKEN}`;

type Row = [what: string, method: string, url: string, headers: Record<string, string>, expected: 'ok' | 400 | 401 | 403];

const rows: Row[] = [
  // The page's files hold no secret: served after the Host / Origin / Sec-Fetch-Site checks alone.
  ['the page without a token', 'GET', '/', { host }, 'ok'],
  ['the page, HEAD', 'HEAD', '/', { host }, 'ok'],
  ['an asset without a token, via localhost', 'GET', '/assets/app.js', { host: `localhost:${PORT}` }, 'ok'],
  ['an asset the page loads', 'GET', '/assets/lib/api.js', { host, origin, 'sec-fetch-site': 'same-origin' }, 'ok'],
  ['the page opened from a link on another site, or from a file (the --open launch page)', 'GET', '/', { host, 'sec-fetch-site': 'cross-site' }, 'ok'],
  ['an asset another site asks for', 'GET', '/assets/app.js', { host, 'sec-fetch-site': 'cross-site' }, 403],
  ['an asset another port asks for', 'GET', '/assets/app.js', { host, 'sec-fetch-site': 'same-site' }, 403],
  ['a POST to the page', 'POST', '/', { host }, 401],

  // The API and the event stream: the header, on every request (reads too).
  ['a read with the header', 'GET', '/api/runs', { host, ...header, 'sec-fetch-site': 'same-origin' }, 'ok'],
  ['the event stream with the header', 'GET', '/api/events', { host, ...header }, 'ok'],
  ['a change with the header from the page', 'POST', '/api/x', { host, ...header, origin, 'sec-fetch-site': 'same-origin' }, 'ok'],
  ['a read without anything', 'GET', '/api/runs', { host }, 401],
  ['the event stream without the header', 'GET', '/api/events', { host }, 401],
  ['a read with only the cookie', 'GET', '/api/runs', { host, cookie }, 401],
  ['the event stream with only the cookie', 'GET', '/api/events', { host, cookie }, 401],
  ['a change with only the cookie', 'POST', '/api/x', { host, cookie }, 401],
  ['a read with a wrong header', 'GET', '/api/runs', { host, 'x-ckptd-token': 'guess' }, 401],
  ['a change with a wrong header and the cookie', 'POST', '/api/x', { host, cookie, 'x-ckptd-token': 'guess' }, 401],
  ['a DELETE without the header', 'DELETE', '/api/x', { host }, 401],

  // The old `/?token=` URL: the token belongs after `#`, where no server, log or Referer sees it.
  ['the old URL with the right token', 'GET', `/?token=${TOKEN}`, { host }, 400],
  ['the old URL with a wrong token', 'GET', '/?token=guess', { host }, 400],
  ['a token in the query of the API', 'GET', `/api/runs?token=${TOKEN}`, { host }, 400],
  ['a token in the query beside the header', 'GET', `/api/runs?token=${TOKEN}`, { host, ...header }, 400],

  // Where the request comes from, whatever it carries.
  ['another origin', 'POST', '/api/x', { host, ...header, origin: 'http://evil.example' }, 403],
  ['another port on this host', 'GET', '/api/runs', { host, ...header, origin: `http://127.0.0.1:${PORT + 1}` }, 403],
  ['an opaque origin', 'POST', '/api/x', { host, ...header, origin: 'null' }, 403],
  ['a rebound host name (DNS rebinding)', 'GET', '/api/runs', { host: `evil.example:${PORT}`, ...header }, 403],
  ['a rebound host name asking for the page', 'GET', '/', { host: `evil.example:${PORT}` }, 403],
  ['another port in Host', 'GET', '/', { host: `127.0.0.1:${PORT + 1}` }, 403],
  ['no Host at all', 'GET', '/', {}, 403],
  ['a same-site (other port) request', 'GET', '/api/runs', { host, ...header, 'sec-fetch-site': 'same-site' }, 403],
  ['a cross-site request', 'GET', '/api/runs', { host, ...header, 'sec-fetch-site': 'cross-site' }, 403],
];

describe('checkAccess', () => {
  it.each(rows)('%s: %s %s', (_what, method, url, headers, expected) => {
    const v = checkAccess({ method, url, headers }, PORT, TOKEN);
    if (expected === 'ok') expect(v).toEqual({ ok: true });
    else expect(v).toMatchObject({ ok: false, status: expected });
  });

  it('never sets a cookie', () => {
    for (const [, method, url, headers] of rows) expect(JSON.stringify(checkAccess({ method, url, headers }, PORT, TOKEN))).not.toMatch(/cookie/i);
  });

  it('tells how to get in: the URL `ckptd ui` printed', () => {
    const noToken = checkAccess({ method: 'GET', url: '/api/runs', headers: { host } }, PORT, TOKEN);
    expect(noToken.ok || noToken.reason).toMatch(/open the URL that `ckptd ui` printed/);
    const query = checkAccess({ method: 'GET', url: `/?token=${TOKEN}`, headers: { host } }, PORT, TOKEN);
    expect(query.ok || query.reason).toMatch(/#token=.*open the URL that `ckptd ui` printed/);
    // Not an oracle, and not a copy of the secret into the log.
    expect(query.ok || query.reason).not.toContain(TOKEN);
  });

  it('puts no control byte of a refused request into the reason the log prints (no terminal escapes)', () => {
    const csi = '\u009b31m';
    for (const headers of [{ host: `evil${csi}:1` }, { host, origin: `http://x${csi}` }, { host, 'sec-fetch-site': `cross${csi}` }]) {
      const v = checkAccess({ method: 'GET', url: '/api/x', headers }, PORT, TOKEN);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).not.toMatch(/[^\x20-\x7e]/);
    }
  });
});

describe('checkAccess on port 80', () => {
  // A browser leaves HTTP's default port out of the Host it sends and of the origin it names:
  // `http://127.0.0.1:80/` is `Host: 127.0.0.1`, `Origin: http://127.0.0.1`. Only there, and the
  // host names are still only 127.0.0.1 and localhost.
  const at80: [what: string, port: number, method: string, headers: Record<string, string>, expected: 'ok' | 403][] = [
    ['the page, Host without the port', 80, 'GET', { host: '127.0.0.1' }, 'ok'],
    ['the page via localhost, Host without the port', 80, 'GET', { host: 'localhost' }, 'ok'],
    ['the page, Host with :80 (curl, a proxy)', 80, 'GET', { host: '127.0.0.1:80' }, 'ok'],
    ['a change from the page, its origin without the port', 80, 'POST', { host: '127.0.0.1', origin: 'http://127.0.0.1', 'sec-fetch-site': 'same-origin', ...header }, 'ok'],
    ['a rebound host name without a port', 80, 'GET', { host: 'evil.example' }, 403],
    ['a rebound host name with :80', 80, 'GET', { host: 'evil.example:80' }, 403],
    ['another port in Host', 80, 'GET', { host: '127.0.0.1:8080' }, 403],
    ['another origin', 80, 'POST', { host: '127.0.0.1', origin: 'http://evil.example', ...header }, 403],
    ['another port as the origin', 80, 'POST', { host: '127.0.0.1', origin: 'http://127.0.0.1:8080', ...header }, 403],
    // Not HTTP's default port: a browser sends it, so a Host without it names another server.
    ['Host without the port, on another port', PORT, 'GET', { host: '127.0.0.1' }, 403],
    ['an origin without the port, on another port', PORT, 'POST', { host, origin: 'http://127.0.0.1', ...header }, 403],
    ['Host without the port, on 443 (plain HTTP: the browser sends :443)', 443, 'GET', { host: '127.0.0.1' }, 403],
  ];
  it.each(at80)('%s', (_what, port, method, headers, expected) => {
    const v = checkAccess({ method, url: method === 'GET' ? '/' : '/api/x', headers }, port, TOKEN);
    if (expected === 'ok') expect(v).toEqual({ ok: true });
    else expect(v).toMatchObject({ ok: false, status: expected });
  });
});

describe('tokens', () => {
  it('makes 32 random bytes, base64url, different every time', () => {
    const a = newAccessToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newAccessToken()).not.toBe(a);
  });

  it('compares secrets of any length', () => {
    expect(sameSecret(TOKEN, TOKEN)).toBe(true);
    expect(sameSecret(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(sameSecret('', TOKEN)).toBe(false);
  });
});
