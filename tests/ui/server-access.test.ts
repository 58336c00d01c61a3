/**
 * The panel server applies the access rules (see access.test.ts) as a browser meets them: the URL it
 * prints carries the token only after `#`; the page and its assets come without the token and hold
 * none; the API answers only with the token header (a cookie is worth nothing); the old `?token=`
 * URL gets a page that names the URL to open, and never sets a cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { loraPod } from '../helpers/lora-pod.js';

const cleanups: (() => unknown)[] = [];
let server: UiServer;
let base: string;

beforeAll(async () => {
  const { cfg } = loraPod({ prefix: 'ckptd-ui-access-', top: '', backup: '{every: never}' }, cleanups);
  server = await startUiServer({ config: loadConfigFile(cfg), port: 0 });
  cleanups.push(() => server.close());
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('the panel server', () => {
  it('prints a URL whose token is in the fragment only', () => {
    expect(server.url).toBe(`${base}/#token=${server.token}`);
  });

  it('serves the page and its assets without the token, with no token in them', async () => {
    for (const p of ['/', '/assets/app.js', '/assets/lib/api.js', '/assets/style.css', '/assets/icon.svg']) {
      const res = await fetch(base + p);
      expect(res.status, p).toBe(200);
      expect(await res.text(), p).not.toContain(server.token);
      expect(res.headers.get('set-cookie'), p).toBeNull();
    }
  });

  it('answers the API and the event stream only with the token header; a cookie alone is refused', async () => {
    const cookie = { Cookie: `ckptd_ui_${server.port}=${server.token}` };
    for (const p of ['/api/runs', '/api/runs/lora/records', '/api/events']) {
      expect((await fetch(base + p)).status, p).toBe(401);
      expect((await fetch(base + p, { headers: cookie })).status, p).toBe(401);
    }
    const snapshot = { method: 'POST', headers: { ...cookie, 'Content-Type': 'application/json' }, body: '{}' };
    expect((await fetch(`${base}/api/runs/lora/snapshots`, snapshot)).status).toBe(401);
    const runs = await fetch(`${base}/api/runs`, { headers: { 'X-Ckptd-Token': server.token } });
    expect(runs.status).toBe(200);
    expect(await runs.json()).toMatchObject({ runs: [{ name: 'lora' }] });
  });

  it('names a bad label as the page gives it (name, notes), not as a command-line flag', async () => {
    const post = (body: unknown) =>
      fetch(`${base}/api/runs/lora/snapshots`, { method: 'POST', headers: { 'X-Ckptd-Token': server.token, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const long = await post({ name: 'x'.repeat(201) });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ error: 'name is 201 characters long; the limit is 200' });
    const control = await post({ notes: 'a\u0001b' });
    expect(control.status).toBe(400);
    expect(await control.json()).toMatchObject({ error: 'notes contains control characters; remove them' });
  });

  it('answers the old ?token= URL with a page that names the URL to open, right token or not', async () => {
    for (const t of [server.token, 'guess']) {
      const res = await fetch(`${base}/?token=${t}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('location')).toBeNull();
      const text = await res.text();
      expect(text).toMatch(/^Bad Request: the access token goes after # in the URL .*open the URL that `ckptd ui` printed/);
      expect(text).not.toContain(server.token);
    }
  });
});
