/**
 * The Version panel's access rules, request by request: the token (URL once, then the cookie),
 * the header on changes, and Host / Origin / Sec-Fetch-Site against cross-site requests and DNS
 * rebinding. Each row names the rule it exercises; the `ok` rows show each refusal is that rule's.
 */
import { describe, expect, it } from 'vitest';
import { checkAccess, cookieName, newAccessToken, readCookie, sameSecret, sessionCookie } from '../../src/ui/access.js';

const PORT = 4321;
const TOKEN = newAccessToken();
const cookie = `${cookieName(PORT)}=${TOKEN}`;
const host = `127.0.0.1:${PORT}`;

type Row = [what: string, method: string, url: string, headers: Record<string, string>, expected: 'ok' | 'login' | 401 | 403];

const rows: Row[] = [
  ['the page with the cookie', 'GET', '/', { host, cookie }, 'ok'],
  ['an asset with the cookie, via localhost', 'GET', '/assets/app.js', { host: `localhost:${PORT}`, cookie }, 'ok'],
  ['a change with cookie and header from the page', 'POST', '/api/x', { host, cookie, 'x-ckptd-token': TOKEN, origin: `http://127.0.0.1:${PORT}`, 'sec-fetch-site': 'same-origin' }, 'ok'],
  ['the URL with the token', 'GET', `/?token=${TOKEN}`, { host }, 'login'],
  ['the URL with the token, opened from a link on another site', 'GET', `/?token=${TOKEN}`, { host, 'sec-fetch-site': 'cross-site' }, 'login'],
  ['the page without anything', 'GET', '/', { host }, 401],
  ['a wrong token in the URL', 'GET', '/?token=guess', { host }, 401],
  ['the token in the URL of another path', 'GET', `/api/runs?token=${TOKEN}`, { host }, 401],
  ['a wrong cookie', 'GET', '/api/runs', { host, cookie: `${cookieName(PORT)}=guess` }, 401],
  ["another port's cookie", 'GET', '/api/runs', { host, cookie: `${cookieName(PORT + 1)}=${TOKEN}` }, 401],
  ['the event stream without the cookie', 'GET', '/api/events', { host }, 401],
  ['a change with the header but no cookie', 'POST', '/api/x', { host, 'x-ckptd-token': TOKEN }, 401],
  ['a change with the cookie but no header', 'POST', '/api/x', { host, cookie }, 403],
  ['a change with a wrong header', 'POST', '/api/x', { host, cookie, 'x-ckptd-token': 'guess' }, 403],
  ['a DELETE without the header', 'DELETE', '/api/x', { host, cookie }, 403],
  ['another origin', 'POST', '/api/x', { host, cookie, 'x-ckptd-token': TOKEN, origin: 'http://evil.example' }, 403],
  ['another port on this host', 'GET', '/api/runs', { host, cookie, origin: `http://127.0.0.1:${PORT + 1}` }, 403],
  ['an opaque origin', 'POST', '/api/x', { host, cookie, 'x-ckptd-token': TOKEN, origin: 'null' }, 403],
  ['a rebound host name (DNS rebinding)', 'GET', '/api/runs', { host: `evil.example:${PORT}`, cookie }, 403],
  ['another port in Host', 'GET', '/', { host: `127.0.0.1:${PORT + 1}`, cookie }, 403],
  ['no Host at all', 'GET', '/', { cookie }, 403],
  ['a same-site (other port) request', 'GET', '/api/runs', { host, cookie, 'sec-fetch-site': 'same-site' }, 403],
  ['a cross-site request', 'GET', '/api/runs', { host, cookie, 'sec-fetch-site': 'cross-site' }, 403],
];

describe('checkAccess', () => {
  it.each(rows)('%s: %s %s', (_what, method, url, headers, expected) => {
    const v = checkAccess({ method, url, headers }, PORT, TOKEN);
    if (expected === 'ok') expect(v).toEqual({ ok: true });
    else if (expected === 'login') expect(v).toEqual({ ok: true, setCookie: sessionCookie(PORT, TOKEN), location: '/' });
    else expect(v).toMatchObject({ ok: false, status: expected });
  });

  it('puts no control byte of a refused request into the reason the log prints (no terminal escapes)', () => {
    const csi = '\u009b31m';
    for (const headers of [{ host: `evil${csi}:1` }, { host, origin: `http://x${csi}` }, { host, 'sec-fetch-site': `cross${csi}` }]) {
      const v = checkAccess({ method: 'GET', url: '/api/x', headers }, PORT, TOKEN);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).not.toMatch(/[^\x20-\x7e]/);
    }
  });

  it('sets a cookie JavaScript cannot read and other sites cannot send', () => {
    expect(sessionCookie(PORT, TOKEN)).toBe(`ckptd_ui_${PORT}=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`);
  });
});

describe('tokens and cookies', () => {
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

  it('reads one cookie among several', () => {
    expect(readCookie(`a=1; ${cookie}; b=2`, cookieName(PORT))).toBe(TOKEN);
    expect(readCookie('a=1', cookieName(PORT))).toBeNull();
    expect(readCookie(undefined, 'a')).toBeNull();
  });
});
