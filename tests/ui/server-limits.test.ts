/**
 * The panel listens on 127.0.0.1, where anyone on the machine can connect: a connection that never
 * finishes its request head is closed, and a refused request's body is not read (its connection is
 * closed after the answer), so nobody can hold the panel's file descriptors for free. A body over
 * 64 KB is answered 400 on a connection the answer says is closed, so a client's next request
 * goes on a new one instead of failing on a dropped one.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { TOKEN_HEADER } from '../../src/ui/access.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { loraPod } from '../helpers/lora-pod.js';

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function panel(): Promise<{ server: UiServer; port: number }> {
  const { cfg } = loraPod({ prefix: 'ckptd-ui-limits-', top: '', backup: '{every: never}' }, cleanups);
  const server = await startUiServer({ config: loadConfigFile(cfg), port: 0, headersTimeoutMs: 300 });
  cleanups.push(() => server.close());
  return { server, port: Number(new URL(server.url).port) };
}

/** Connects, writes `data`, and resolves with what came back once the server closed the connection (or `waitMs` passed: null). */
function exchange(port: number, data: string | Buffer, waitMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, waitMs);
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(data);
  });
}

describe('the panel server', () => {
  it('closes a connection that never finishes its request head', async () => {
    const { port } = await panel();
    const answer = await exchange(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, 5_000);
    expect(answer, 'closed well before 5 s').not.toBeNull();
  });

  it('answers a refused request and closes its connection without reading its body', async () => {
    const { port } = await panel();
    // Announces 100 MB and sends only the head: the server must not wait for the rest.
    const head = `POST /api/runs/lora/snapshots HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`;
    const answer = await exchange(port, head, 5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('answers a body over 64 KB with 400 and Connection: close, so the next request of a keep-alive client works', async () => {
    const { server, port } = await panel();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const send = (method: string, p: string, body?: string): Promise<{ status: number; connection: string | undefined }> =>
      new Promise((resolve, reject) => {
        const headers = { [TOKEN_HEADER]: server.token, 'Content-Type': 'application/json' };
        const req = http.request({ agent, host: '127.0.0.1', port, method, path: p, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await send('POST', '/api/runs/lora/snapshots', `{"notes": "${'x'.repeat(100_000)}"}`)).toEqual({ status: 400, connection: 'close' });
    expect((await send('GET', '/api/runs')).status).toBe(200);
  });
});
