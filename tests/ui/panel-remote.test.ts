/**
 * The Version panel's API with a remote (issue 13), against a real S3 API server (s3rver): each
 * record says where it lives (local, remote, both), a remote-only one is listed too; push, pull and
 * restore from the remote go through the panel's op machinery with their progress announced; the
 * push status comes with the records; a remote that refuses or never answers leaves the local list
 * and a notice, in bounded time; no credential ever reaches the page.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { placeRecords } from '../../src/client/list-remote.js';
import type { ListedRecord } from '../../src/client/list.js';
import { withoutCredentials } from '../../src/client/remote-status.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { RecordMeta } from '../../src/store/types.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { loraPod, s3Remote, trainLora } from '../helpers/lora-pod.js';
import { startS3Server, TEST_SECRET_KEY, type S3TestServer } from '../helpers/s3-server.js';

interface Rec {
  id: string;
  kind: string;
  location?: string;
  own_bytes: number;
  step: number | null;
}
interface Records {
  records: Rec[];
  remote: null | { url: string; reachable: boolean; notice: string | null; push: { queued: number; last_pushed: { id: string } | null; error: unknown } };
}
interface OpEvent {
  op: string;
  id: string | null;
  state: string;
  done?: number;
  total?: number;
}

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});
let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A machine: a run folder, a config whose run `lora` pushes to `remote` (a YAML block or none), and its panel. */
async function machine(remote: string | null, remoteTimeoutMs?: number): Promise<{ run: string; store: string; panel: Panel }> {
  const { run, store, cfg } = loraPod({ prefix: 'ckptd-rpanel-', top: remote ?? '', backup: '{every: never}' }, cleanups);
  const server = await startUiServer({ config: loadConfigFile(cfg), port: 0, ...(remoteTimeoutMs === undefined ? {} : { remoteTimeoutMs }) });
  cleanups.push(() => server.close());
  return { run, store, panel: await connect(server) };
}


interface Panel {
  get<T>(p: string): Promise<T>;
  post<T>(p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Every `op` event the panel announced since `connect`. */
  ops(): OpEvent[];
  /** Resolves once an `op` event `pred` holds for has come (already, or later). */
  opSeen(pred: (e: OpEvent) => boolean): Promise<void>;
}

/** Calls the panel as the page does (the token in the header of every request) and listens to the event stream. */
async function connect(server: UiServer): Promise<Panel> {
  const base = `http://127.0.0.1:${server.port}`;
  const auth = { 'X-Ckptd-Token': server.token };
  const bodies: string[] = [];
  const read = async (res: Response): Promise<string> => {
    const text = await res.text();
    bodies.push(text);
    // Whatever the panel answers, no credential is in it.
    expect(text).not.toContain(TEST_SECRET_KEY);
    return text;
  };
  const seen: OpEvent[] = [];
  const waiting = new Set<() => void>();
  const events = new AbortController();
  cleanups.push(() => events.abort());
  const stream = await fetch(`${base}/api/events`, { headers: auth, signal: events.signal });
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!/^event: op$/m.test(block)) continue;
          seen.push(JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as OpEvent);
          for (const w of waiting) w();
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return {
    async get<T>(p: string) {
      const res = await fetch(base + p, { headers: auth });
      const text = await read(res);
      expect(res.status, text).toBe(200);
      return JSON.parse(text) as T;
    },
    async post<T>(p: string, body: unknown = {}) {
      const res = await fetch(base + p, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: JSON.parse(await read(res)) as T };
    },
    ops: () => seen,
    opSeen: (pred) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!seen.some(pred)) return;
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      }),
  };
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const R = '/api/runs/lora';

async function snapshot(m: { panel: Panel }): Promise<string> {
  const r = await m.panel.post<{ id: string }>(`${R}/snapshots`, {});
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

describe('the panel with a remote', () => {
  it('shows where each record lives, pushes one, and another machine pulls and restores it from the remote', async () => {
    const bucket = await s3.newBucket();
    // Pushed by hand only (push: none; a push by id sends it all the same): what each machine
    // takes stays unqueued, so only the record pushed here goes up.
    const byHand = `${s3Remote(bucket, s3.endpoint)}  push: none\n`;
    const a = await machine(byHand);
    trainLora(a.run, 100);
    const first = await snapshot(a);
    trainLora(a.run, 200);
    const second = await snapshot(a);

    const before = await a.panel.get<Records>(`${R}/records`);
    expect(before.records.map((r) => [r.id, r.location])).toEqual([
      [second, 'local'],
      [first, 'local'],
    ]);
    expect(before.remote).toMatchObject({ url: `s3://${bucket}/team`, reachable: true, notice: null, push: { queued: 0, last_pushed: null, error: null } });

    const pushed = await a.panel.post<{ pushed: { id: string }[] }>(`${R}/records/${first}/push`);
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    expect(pushed.body.pushed.map((p) => p.id)).toEqual([first]);
    await a.panel.opSeen((e) => e.op === 'push' && e.id === first && e.state === 'done');
    expect(a.panel.ops().filter((e) => e.op === 'push').map((e) => e.state)[0]).toBe('started');
    // The bar counts what this push sends, not every record of the store (it showed first + second).
    const firstBytes = (JSON.parse(fs.readFileSync(path.join(a.store, 'snapshots', first, 'snapshot.json'), 'utf8')) as { bytes: number }).bytes;
    expect(a.panel.ops().filter((e) => e.op === 'push' && e.state === 'progress').at(-1)).toMatchObject({ done: firstBytes, total: firstBytes });
    const after = await a.panel.get<Records>(`${R}/records`);
    expect(after.records.map((r) => [r.id, r.location])).toEqual([
      [second, 'local'],
      [first, 'both'],
    ]);
    expect(after.remote?.push).toMatchObject({ queued: 0, last_pushed: { id: first } });

    // Another machine, the same config: the pushed snapshot is there, remote only.
    const b = await machine(byHand);
    trainLora(b.run, 7, 'weights of another try');
    const listed = await b.panel.get<Records>(`${R}/records`);
    expect(listed.records.map((r) => [r.id, r.location, r.step, r.own_bytes])).toEqual([[first, 'remote', 100, 0]]);
    // Nothing to push from here: it is not in this local store.
    expect((await b.panel.post(`${R}/records/${first}/push`)).status).toBe(404);

    const preview = await b.panel.get<{ from: string; write: { path: string }[] }>(`${R}/records/${first}/restore-preview`);
    expect(preview.from).toBe('remote');
    expect(preview.write.map((f) => f.path).sort()).toEqual(['encoder.bin', 'model.safetensors', 'state.json']);
    const restored = await b.panel.post<{ written: string[] }>(`${R}/records/${first}/restore`);
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    expect(fs.readFileSync(path.join(b.run, 'model.safetensors'), 'utf8')).toBe('weights at 100');
    await b.panel.opSeen((e) => e.op === 'restore' && e.id === first && e.state === 'done');
    expect(sha(path.join(b.run, 'encoder.bin'))).toBe(sha(path.join(a.store, 'snapshots', first, 'files', 'encoder.bin')));
    const restoreOps = b.panel.ops().filter((e) => e.op === 'restore' && e.id === first);
    expect(restoreOps[0]?.state).toBe('started');
    expect(restoreOps.at(-1)?.state).toBe('done');
    expect(restoreOps.some((e) => e.state === 'progress' && e.total! > 0)).toBe(true);

    const pulled = await b.panel.post<{ id: string; bytes: number }>(`${R}/records/${first}/pull`);
    expect(pulled.status, JSON.stringify(pulled.body)).toBe(200);
    expect(pulled.body.id).toBe(first);
    await b.panel.opSeen((e) => e.op === 'pull' && e.id === first && e.state === 'done');
    const pullOps = b.panel.ops().filter((e) => e.op === 'pull' && e.id === first);
    expect(pullOps.at(-1)).toMatchObject({ state: 'done' });
    expect(pullOps.filter((e) => e.state === 'progress').at(-1)).toMatchObject({ done: pulled.body.bytes, total: pulled.body.bytes });
    expect(fs.readFileSync(path.join(b.store, 'snapshots', first, 'files', 'model.safetensors'), 'utf8')).toBe('weights at 100');
    const now = await b.panel.get<Records>(`${R}/records`);
    const located = new Map(now.records.map((r) => [r.id, r.location]));
    expect(located.get(first)).toBe('both');
    // The restore kept b's state before it as a pre-restore snapshot, here only.
    expect([...located.values()].sort()).toEqual(['both', 'local']);
    // Pulling what is here already is a usage error.
    expect((await b.panel.post(`${R}/records/${first}/pull`)).status).toBe(400);
  });

  it('without a remote, records carry no location and the reply no remote', async () => {
    const m = await machine(null);
    trainLora(m.run, 1, 'w');
    const id = await snapshot(m);
    const r = await m.panel.get<Records>(`${R}/records`);
    expect(r.remote).toBeNull();
    expect(r.records.map((x) => x.id)).toEqual([id]);
    expect(r.records[0]).not.toHaveProperty('location');
    expect((await m.panel.post(`${R}/records/${id}/push`)).status).toBe(400);
  });

  it('a remote that refuses connections: the local list and a notice saying why', async () => {
    const closed = await freePort();
    const m = await machine(`remote:\n  url: s3://nowhere/team\n  endpoint: http://127.0.0.1:${closed}\n  force_path_style: true\n`);
    trainLora(m.run, 1, 'w');
    const id = await snapshot(m);
    const r = await m.panel.get<Records>(`${R}/records`);
    expect(r.records.map((x) => [x.id, x.location])).toEqual([[id, 'local']]);
    expect(r.remote).toMatchObject({ url: 's3://nowhere/team', reachable: false });
    expect(r.remote?.notice).toMatch(/^remote unreachable: .*ECONNREFUSED/);
  });

  it('a remote that never answers: the panel answers anyway, at its deadline, with the local list', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const m = await machine(`remote:\n  url: s3://silent/team\n  endpoint: http://127.0.0.1:${port}\n  force_path_style: true\n`, 300);
    trainLora(m.run, 1, 'w');
    const id = await snapshot(m);
    const r = await m.panel.get<Records>(`${R}/records`);
    expect(r.records.map((x) => [x.id, x.location])).toEqual([[id, 'local']]);
    expect(r.remote).toMatchObject({ reachable: false, notice: 'remote unreachable: no answer within 0.3 s' });
    // The remote got the request the panel gave up on.
    expect(sockets.length).toBeGreaterThan(0);
    // An id the remote would have to resolve (here for a pull) says the remote is unreachable, instead of hanging.
    const res = await m.panel.post(`${R}/records/20990101-0000/pull`);
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).toMatch(/remote is unreachable: no answer within 0\.3 s/);
  });
});

describe('where records live, and what reaches the page', () => {
  const rec = (id: string, created: string): RecordMeta => ({ id, created, files: [{ path: 'a' }] }) as unknown as RecordMeta;
  const listed = (id: string, created: string): ListedRecord => ({ id, created, own_bytes: 5 }) as unknown as ListedRecord;

  it('placeRecords: local only, both, remote only (own_bytes 0, no manifest), newest first', () => {
    const local = [listed('b', '2026-01-02T00:00:00Z'), listed('a', '2026-01-01T00:00:00Z')];
    const remote = [rec('c', '2026-01-03T00:00:00Z'), rec('a', '2026-01-01T00:00:00Z')];
    expect(placeRecords(local, remote).map((r) => [r.id, r.location, r.own_bytes, 'files' in r])).toEqual([
      ['c', 'remote', 0, false],
      ['b', 'local', 5, false],
      ['a', 'both', 5, false],
    ]);
  });

  it('placeRecords with the remote unread: every local record is local, none added', () => {
    expect(placeRecords([listed('a', '2026-01-01T00:00:00Z')], null).map((r) => r.location)).toEqual(['local']);
  });

  it('withoutCredentials drops the values of the AWS credential variables from a message', () => {
    const saved = { ...process.env };
    try {
      process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLEKEYID';
      process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
      process.env.AWS_SESSION_TOKEN = 'session-token-value';
      const text = withoutCredentials('denied for AKIAEXAMPLEKEYID signing with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY (session-token-value)');
      expect(text).toBe('denied for [credential] signing with [credential] ([credential])');
    } finally {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
