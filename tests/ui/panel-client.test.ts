/**
 * The page's side of the panel's access, in Node: how it takes the token from `#token=` (into
 * sessionStorage, out of the address bar), and how it reads the event stream with `fetch()` so each
 * request carries the token header: the event stream framing, EventSource's reconnection with
 * backoff, and stopping for good when the server refuses the token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startUiServer } from '../../src/ui/server.js';
import { loraPod } from '../helpers/lora-pod.js';

interface StreamEvent {
  type: string;
  data: string;
}
type State = 'live' | 'reconnecting' | 'closed';
interface EventStreamModule {
  EventStreamParser: new () => { feed(text: string): StreamEvent[]; retry: number | null };
  connectEvents(url: string, o: { headers: Record<string, string>; onEvent: (e: StreamEvent) => void; onState: (s: State) => void; retryMs?: number }): () => void;
}
interface TokenHost {
  location: { hash: string; pathname: string; search: string };
  history: { state: unknown; replaceState(data: unknown, unused: string, url: string): void };
  sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
}

// The panel's plain-JS modules, as the browser loads them (variable paths: they have no type declarations).
const STREAM_MODULE = '../../ui/lib/event-stream.js';
const TOKEN_MODULE = '../../ui/lib/token.js';
const { EventStreamParser, connectEvents } = (await import(STREAM_MODULE)) as EventStreamModule;
const { takeToken } = (await import(TOKEN_MODULE)) as { takeToken(w: TokenHost): string };

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A tab at `hash`: its address after `replaceState`, and its sessionStorage. */
function tab(hash: string, stored: Record<string, string> = {}): TokenHost & { address: () => string; stored: Record<string, string> } {
  let address = `/${hash}`;
  const w = {
    location: { hash, pathname: '/', search: '' },
    history: { state: null, replaceState: (_d: unknown, _u: string, url: string) => void (address = url) },
    sessionStorage: { getItem: (k: string) => stored[k] ?? null, setItem: (k: string, v: string) => void (stored[k] = v) },
    address: () => address,
    stored,
  };
  return w;
}

describe('the token in the page', () => {
  it('takes it from #token=, keeps it in sessionStorage and removes it from the address (other fragment parameters stay)', () => {
    const t = tab('#token=abc_-1&run=lora');
    expect(takeToken(t)).toBe('abc_-1');
    expect(t.address()).toBe('/#run=lora');
    expect(Object.values(t.stored)).toEqual(['abc_-1']);
    const only = tab('#token=abc');
    takeToken(only);
    expect(only.address()).toBe('/');
  });

  it('keeps working after a reload of the same tab, and takes a newer URL over what the tab stored', () => {
    const first = tab('#token=abc');
    takeToken(first);
    expect(takeToken(tab('#run=lora', first.stored))).toBe('abc');
    expect(takeToken(tab('#token=new', first.stored))).toBe('new');
    expect(takeToken(tab('', first.stored))).toBe('new');
  });

  it('has none in a tab opened without it', () => {
    expect(takeToken(tab(''))).toBe('');
    expect(takeToken(tab('#run=lora'))).toBe('');
  });
});

describe('the event stream framing', () => {
  it('reads events, joined data lines, comments, retry, and lines cut anywhere (CRLF, LF, CR)', () => {
    const text = 'retry: 2000\r\n\r\n: keep-alive\n\nevent: op\ndata: {"a":1}\n\nevent: records\rdata:x\rdata: y\r\rdata: plain\r\n\r\nevent: empty\n\n';
    // Every way of cutting the text into two chunks gives the same events.
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new EventStreamParser();
      const events = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      expect(events, `cut at ${cut}`).toEqual([
        { type: 'op', data: '{"a":1}' },
        { type: 'records', data: 'x\ny' },
        { type: 'message', data: 'plain' },
      ]);
      expect(p.retry).toBe(2000);
    }
  });

  it('holds an event back until its blank line comes', () => {
    const p = new EventStreamParser();
    expect(p.feed('event: op\ndata: 1\n')).toEqual([]);
    expect(p.feed('\n')).toEqual([{ type: 'op', data: '1' }]);
  });
});

/** A stand-in server whose `n`th connection to the event stream `answer` serves. */
async function streamServer(answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; connections: () => number }> {
  let n = 0;
  const server = http.createServer((req, res) => answer(++n, req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`, connections: () => n };
}

/** Listens to `url` until stopped at the end of the test; records what it hears. */
function listenTo(url: string, headers: Record<string, string> = {}): { states: State[]; events: StreamEvent[] } {
  const heard = { states: [] as State[], events: [] as StreamEvent[] };
  const stop = connectEvents(url, { headers, retryMs: 5000, onEvent: (e) => heard.events.push(e), onState: (s) => heard.states.push(s) });
  cleanups.push(stop);
  return heard;
}

describe('connectEvents', () => {
  it("sends the headers on every connection and reconnects after a dropped stream, waiting the server's retry time", async () => {
    const tokens: (string | undefined)[] = [];
    const { url } = await streamServer((n, req, res) => {
      tokens.push(req.headers['x-ckptd-token'] as string | undefined);
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
      // The first stream asks for a short retry and ends; the second stays open.
      if (n === 1) res.end(`retry: 30\n\nevent: op\ndata: {"n":1}\n\n`);
      else res.write(`event: records\ndata: {"n":${n}}\n\n`);
    });
    const heard = listenTo(url, { 'X-Ckptd-Token': 'secret' });
    await expect.poll(() => heard.events.length, { timeout: 3000 }).toBe(2);
    expect(heard.events).toEqual([
      { type: 'op', data: '{"n":1}' },
      { type: 'records', data: '{"n":2}' },
    ]);
    expect(heard.states).toEqual(['live', 'reconnecting', 'live']);
    expect(tokens).toEqual(['secret', 'secret']);
  });

  it('backs off while the server cannot be reached', async () => {
    const { url } = await streamServer((_n, _req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('retry: 40\n\n');
    });
    const heard = listenTo(url);
    await expect.poll(() => heard.states, { timeout: 3000 }).toEqual(['live']);
    // The server goes away: the stream drops, then attempts fail 40, 80, 160 and 320 ms apart.
    for (const c of cleanups.splice(0, 2).reverse()) await c();
    const dropped = Date.now();
    await expect.poll(() => heard.states.length, { timeout: 5000 }).toBeGreaterThanOrEqual(6);
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(40 + 80 + 160 + 320 - 50);
    expect(heard.states.slice(1)).toEqual(['reconnecting', 'reconnecting', 'reconnecting', 'reconnecting', 'reconnecting']);
  });

  it('stops for good when the server refuses the stream', async () => {
    const { url, connections } = await streamServer((_n, _req, res) => {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"error":"no access token"}');
    });
    const heard = listenTo(url);
    await expect.poll(() => heard.states, { timeout: 3000 }).toEqual(['closed']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connections()).toBe(1);
  });

  it("is let into the panel's own event stream with the token header, and refused without it", async () => {
    const { cfg } = loraPod({ prefix: 'ckptd-ui-client-', top: '', backup: '{every: never}' }, cleanups);
    const server = await startUiServer({ config: loadConfigFile(cfg), port: 0 });
    cleanups.push(() => server.close());
    const url = `http://127.0.0.1:${server.port}/api/events`;
    const refused = listenTo(url, { Cookie: `ckptd_ui_${server.port}=${server.token}` });
    const let_in = listenTo(url, { 'X-Ckptd-Token': server.token });
    await expect.poll(() => [refused.states, let_in.states], { timeout: 3000 }).toEqual([['closed'], ['live']]);
  });
});
