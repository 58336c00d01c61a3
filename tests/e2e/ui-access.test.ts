/**
 * Who may use the Version panel, end to end in headless Chromium: the page and its assets come
 * without a token, the API and the event stream only with the token header (a cookie counts for
 * nothing: browsers send 127.0.0.1's cookies to every port of the host), from the panel's own
 * origin and Host, on 127.0.0.1 only. In the browser the token comes from the URL's fragment,
 * leaves the address bar, stays with the tab across a reload, and never reaches a web server on
 * another port of 127.0.0.1; a tab without it says which URL to open; the launch page of `--open`
 * leads in; and another site cannot act through the browser.
 */
import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLaunchPage } from '../../src/ui/launch-page.js';
import { launchChromium } from '../helpers/chromium.js';
import { runCli } from '../helpers/daemon-process.js';
import { loraPod, trainLora, type LoraPod } from '../helpers/lora-pod.js';
import { startUi, type UiProcess } from '../helpers/ui-process.js';

/** The page globals the tests touch (this project compiles without the DOM library). */
interface PageGlobals {
  sessionStorage: { length: number; getItem(k: string): string | null };
  history: { length: number };
}

const cleanups: (() => unknown)[] = [];
let pod: LoraPod;
let ui: UiProcess;
let browser: Browser;
let page: Page;
/** The run's one snapshot. */
let first: string;

async function cli(...args: string[]): Promise<string> {
  const r = await runCli(['--config', pod.cfg, ...args]);
  if (r.code !== 0) throw new Error(`ckptd ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

async function show(id: string): Promise<{ id: string; pinned: boolean }> {
  return JSON.parse(await cli('show', id, '--json')) as { id: string; pinned: boolean };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One raw HTTP request (raw, so Host and Origin can be set as an attacker would). */
function request(o: { path: string; method?: string; headers?: Record<string, string>; body?: string; address?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: o.address ?? '127.0.0.1', port: ui.port, path: o.path, method: o.method ?? 'GET', headers: { Host: `127.0.0.1:${ui.port}`, ...o.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const eventually = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 50 });

beforeAll(async () => {
  pod = loraPod({ prefix: 'ckptd-ui-access-', top: '', backup: '{every: never}' }, cleanups);
  trainLora(pod.run, 10);
  first = (JSON.parse(await cli('snapshot', '--name', 'first', '--json')) as { id: string }).id;
  ui = await startUi(pod.cfg);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  for (const c of cleanups.reverse()) await c();
});

describe('ckptd ui access', () => {
  it('answers only on 127.0.0.1; its API only to requests with the token header, from its own origin', async () => {
    // The page and its assets hold no secret: served without a token, and setting no cookie.
    for (const p of ['/', '/assets/app.js']) {
      const r = await request({ path: p });
      expect(r.status, p).toBe(200);
      expect(r.body, p).not.toContain(ui.token);
      expect(r.headers['set-cookie'], p).toBeUndefined();
    }
    expect((await request({ path: '/' })).headers['content-security-policy']).toMatch(/default-src 'none'/);
    // The API and the event stream need the header; a cookie with the token (which a browser would
    // send to every port of 127.0.0.1) counts for nothing.
    const cookie = { Cookie: `ckptd_ui_${ui.port}=${ui.token}` };
    for (const p of ['/api/runs', '/api/runs/lora/records', '/api/events']) {
      expect((await request({ path: p })).status, p).toBe(401);
      expect((await request({ path: p, headers: cookie })).status, p).toBe(401);
    }
    // The URL form with the token in the query: a page naming the URL to open, right token or not.
    for (const t of [ui.token, 'not-the-token']) {
      const old = await request({ path: `/?token=${t}` });
      expect(old.status).toBe(400);
      expect(old.body).toMatch(/after # in the URL.*open the URL that `ckptd ui` printed/);
      expect(old.headers['set-cookie']).toBeUndefined();
    }
    expect(ui.output()).not.toContain(`?token=${ui.token}`);

    // A change must carry the header and must not come from another origin or host name.
    const post = { method: 'POST', path: `/api/runs/lora/records/${first}/labels`, body: JSON.stringify({ pinned: true }) };
    const json = { 'Content-Type': 'application/json' };
    expect((await request({ ...post, headers: { ...json, ...cookie } })).status).toBe(401);
    expect((await request({ ...post, headers: { ...json, 'X-Ckptd-Token': 'guess' } })).status).toBe(401);
    expect((await request({ ...post, headers: { ...json, 'X-Ckptd-Token': ui.token, Origin: 'http://evil.example' } })).status).toBe(403);
    expect((await request({ ...post, headers: { ...json, 'X-Ckptd-Token': ui.token, Host: `evil.example:${ui.port}` } })).status).toBe(403);
    expect((await request({ path: '/api/runs', headers: { 'X-Ckptd-Token': ui.token, 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);
    expect((await show(first)).pinned).toBe(false);
    // With everything right the same requests work (so the refusals above are the checks at work).
    expect((await request({ path: '/api/runs', headers: { 'X-Ckptd-Token': ui.token } })).status).toBe(200);
    const ok = await request({ ...post, headers: { ...json, 'X-Ckptd-Token': ui.token, Origin: `http://127.0.0.1:${ui.port}` } });
    expect(ok.status, ok.body).toBe(200);
    expect((await show(first)).pinned).toBe(true);
    await cli('unpin', first);

    // Bound to 127.0.0.1 itself, not to every address: another loopback address gets no answer.
    await expect(request({ path: '/', address: '127.0.0.2' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('takes the token from the URL fragment: out of the address bar, kept by the tab', async () => {
    await page.goto(ui.url);
    await page.waitForURL((u) => !u.hash.includes('token'));
    expect(page.url()).not.toContain(ui.token);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.getItem('ckptd-token'))).toBe(ui.token);
    await eventually(() => page.locator('#cards > li').count()).toBe(1);
    await eventually(() => page.locator('#live-pill').textContent()).toBe('Live');
    // The entry with the token was replaced, not followed by another: the tab's history is the
    // blank page it started on and the panel without the token.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).history.length)).toBe(2);
  });

  it('keeps working after a reload of the same tab; a tab without the token says which URL to open', async () => {
    await page.reload();
    await eventually(() => page.locator('#cards > li').count()).toBe(1);
    await eventually(() => page.locator('#live-pill').textContent()).toBe('Live');
    expect(page.url()).not.toContain(ui.token);
    expect(await page.context().cookies()).toEqual([]);

    const bare = await page.context().newPage();
    await bare.goto(`http://127.0.0.1:${ui.port}/`);
    await eventually(() => bare.locator('#load-error').textContent()).toBe('This page has no access token: open the URL that `ckptd ui` printed (it ends in #token=…).');
    expect(await bare.locator('#cards > li').count()).toBe(0);
    expect(await bare.locator('#live-pill').textContent()).toBe('Disconnected');
    await bare.goto(`http://127.0.0.1:${ui.port}/?token=${ui.token}`);
    expect(await bare.locator('body').textContent()).toMatch(/^Bad Request: the access token goes after # in the URL .*open the URL that `ckptd ui` printed/);
    await bare.close();
  });

  it('opens from the launch page of --open, a file that sends the browser on to the URL', async () => {
    const launch = writeLaunchPage(ui.url);
    try {
      const opened = await page.context().newPage();
      await opened.goto(`file://${launch.file}`);
      await opened.waitForURL((u) => u.origin === `http://127.0.0.1:${ui.port}` && !u.hash.includes('token'));
      await eventually(() => opened.locator('#cards > li').count()).toBe(1);
      await opened.close();
    } finally {
      launch.remove();
    }
  });

  it('gives nothing to a web server on another port of 127.0.0.1, and refuses what another site asks of it', async () => {
    // Another user's web server on this host (a notebook, a TensorBoard) that this browser visits,
    // after the panel was opened in it: what reaches it is written down.
    const received: string[] = [];
    const evil = http.createServer((req, res) => {
      received.push(JSON.stringify([req.url, req.headers]));
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<a id="go" href="${ui.url}">the panel</a>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilPort = (evil.address() as { port: number }).port;
    try {
      // The panel's own tab goes there: nothing of the panel's reaches the server, and the page
      // there finds nothing in the tab's storage (it belongs to the panel's origin, port included).
      await page.goto(`http://127.0.0.1:${evilPort}/page`);
      expect(received.join('\n')).toContain('/page');
      expect(received.join('\n')).not.toContain(ui.token);
      expect(received.join('\n')).not.toMatch(/cookie/i);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).sessionStorage.length)).toBe(0);
      // Back in the panel, the tab still has its token.
      await page.goBack();
      await eventually(() => page.locator('#cards > li').count()).toBe(1);
      await eventually(() => page.locator('#live-pill').textContent()).toBe('Live');

      // Another site (localhost is another site than 127.0.0.1) tries to act through the browser.
      const other = await page.context().newPage();
      await other.goto(`http://localhost:${evilPort}/`);
      const evilOrigin = new URL(other.url()).origin;
      // A "simple" POST needs no preflight: the browser sends it (and, with CORP, never shows the page the answer).
      const attack = (p: string): Promise<unknown> =>
        other.evaluate(
          (u) => fetch(u, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: '{"pinned":true}' }).catch(() => null),
          `http://127.0.0.1:${ui.port}${p}`,
        );
      for (const action of ['labels', 'delete']) {
        const p = `/api/runs/lora/records/${first}/${action}`;
        await attack(p);
        await eventually(() => ui.output()).toContain(`refused POST ${p} (403): cross-origin request from "${evilOrigin}" refused`);
      }
      expect(await show(first)).toMatchObject({ id: first, pinned: false });
      // A link to the printed URL from another site still opens the panel.
      await other.click('#go');
      await other.waitForURL((u) => u.origin === `http://127.0.0.1:${ui.port}` && !u.hash.includes('token'));
      await eventually(() => other.locator('#cards > li').count()).toBe(1);
      await other.close();
    } finally {
      evil.close();
    }
  });
});
