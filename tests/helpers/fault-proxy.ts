/**
 * A TCP proxy on 127.0.0.1 in front of the test S3 server, which a test arms with faults. It reads
 * just enough HTTP/1.1 from the client (request line, headers, Content-Length) to know where each
 * request starts, so a fault hits a chosen request however the client pools its connections:
 *
 * - `respond`: answer `status` with an S3 error body instead of forwarding (the server never sees
 *   the request), then close the connection;
 * - `drop`: forward `afterBytes` of the request (headers included) or of its response, then cut
 *   both sides;
 * - `stall`: forward `afterBytes` of the request or the response, then nothing more; the
 *   connection stays open until the client gives up;
 * - `slow(bytesPerSecond)`: pace everything forwarded, both ways.
 *
 * Every request is recorded (method, URL, body bytes that reached the server, the fault that hit
 * it), and bytes forwarded are counted, so a test can tell exactly what was sent. Events
 * (`request`, `fault`) let a test wait for a point without sleeping. A chunked request body
 * (which the SDK does not send when it knows the length) makes the rest of its connection opaque:
 * forwarded as it comes, never faulted.
 */
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** Which requests a fault applies to (all given conditions must hold). */
export interface RequestMatch {
  method?: string;
  /** Tested against the path and query, e.g. /partNumber=2&/. */
  url?: RegExp;
}

export type Fault =
  | { kind: 'respond'; status: number; code: string; match?: RequestMatch }
  | { kind: 'drop'; direction: 'request' | 'response'; afterBytes: number; match?: RequestMatch }
  | { kind: 'stall'; direction: 'request' | 'response'; afterBytes: number; match?: RequestMatch };

/** A request the proxy saw. */
export interface SeenRequest {
  method: string;
  url: string;
  contentLength: number;
  /** Its headers, names in lower case. */
  headers: Record<string, string>;
  /** Body bytes forwarded to the server (less than `contentLength` when a fault cut it). */
  bodyBytes: number;
  fault: Fault['kind'] | null;
}

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:PORT`: the endpoint to give the client. */
  endpoint: string;
  /** Arms `fault` for the next request it matches (once). */
  inject(fault: Fault): void;
  /** Paces all forwarding to `bytesPerSecond` both ways; null: full speed. */
  slow(bytesPerSecond: number | null): void;
  /** Every request so far, in arrival order. */
  requests(): SeenRequest[];
  /** Bytes forwarded to the server, and to the client, so far. */
  bytesUp(): number;
  bytesDown(): number;
  /** Emits `request` (SeenRequest, when its headers arrived) and `fault` (SeenRequest, when a fault fires). */
  events: EventEmitter;
  /** Resolves with the next request (or the next fault's request) for which `pred` holds. */
  next(event: 'request' | 'fault', pred?: (r: SeenRequest) => boolean): Promise<SeenRequest>;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/** Starts a proxy to `127.0.0.1:targetPort` on a free port. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const armed: Fault[] = [];
  const seen: SeenRequest[] = [];
  const events = new EventEmitter();
  const sockets = new Set<net.Socket>();
  const totals = { up: 0, down: 0 };
  let rate: number | null = null;

  const takeFault = (r: SeenRequest): Fault | null => {
    const i = armed.findIndex((f) => (f.match?.method === undefined || f.match.method === r.method) && (f.match?.url === undefined || f.match.url.test(r.url)));
    return i < 0 ? null : armed.splice(i, 1)[0]!;
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    // Set once the proxy answered the client itself: the client closes after reading the answer.
    let answeredHere = false;
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', () => upstream.destroy()).on('close', () => {
      if (!answeredHere) closeBoth();
    });
    const up = lane(client, upstream, () => rate, (n) => (totals.up += n));
    const down = lane(upstream, client, () => rate, (n) => (totals.down += n));

    let head = Buffer.alloc(0);
    let bodyLeft = 0;
    let opaque = false;
    let current: { req: SeenRequest; fault: Fault | null; sent: number; answered: number } | null = null;

    /** Forwards request bytes of `current`, applying its request-side fault. */
    const forwardUp = (bytes: Buffer, isBody: boolean): void => {
      const c = current!;
      const f = c.fault;
      let chunk = bytes;
      let fires = false;
      if (f !== null && f.kind !== 'respond' && f.direction === 'request' && c.sent <= f.afterBytes) {
        const room = f.afterBytes - c.sent;
        fires = chunk.length >= room;
        if (fires) chunk = chunk.subarray(0, room);
      }
      c.sent += chunk.length;
      if (isBody) c.req.bodyBytes += chunk.length;
      up.push(chunk);
      if (fires) fire(up, c.fault!, c.req);
    };

    /** Cuts or stalls `which` once what is queued on it was written, and tells the test. */
    const fire = (which: Lane, f: Fault, req: SeenRequest): void => {
      which.then(() => events.emit('fault', req));
      if (f.kind === 'drop') which.then(closeBoth);
      else which.stall();
    };

    const respond = (f: Extract<Fault, { kind: 'respond' }>, req: SeenRequest): void => {
      const body = req.method === 'HEAD' ? '' : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${f.code}</Code><Message>injected by the fault proxy</Message></Error>`;
      const reason = REASONS[f.status] ?? 'Error';
      answeredHere = true;
      upstream.destroy();
      client.end(`HTTP/1.1 ${f.status} ${reason}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      events.emit('fault', req);
    };

    const onClientData = (data: Buffer): void => {
      let rest = data;
      while (rest.length > 0) {
        if (opaque) return up.push(rest);
        if (bodyLeft > 0) {
          const part = rest.subarray(0, bodyLeft);
          rest = rest.subarray(part.length);
          bodyLeft -= part.length;
          if (current!.fault?.kind === 'respond') {
            if (bodyLeft === 0) respond(current!.fault, current!.req);
          } else forwardUp(part, true);
          continue;
        }
        head = Buffer.concat([head, rest]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headerBytes = head.subarray(0, end + 4);
        rest = head.subarray(end + 4);
        head = Buffer.alloc(0);
        const lines = headerBytes.toString('latin1').split('\r\n');
        const [method = '', url = ''] = lines[0]!.split(' ');
        const headers = Object.fromEntries(
          lines.slice(1).flatMap((l) => {
            const colon = l.indexOf(':');
            return colon < 0 ? [] : [[l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()]];
          }),
        );
        const header = (name: string): string | undefined => headers[name];
        const req: SeenRequest = { method, url, contentLength: Number(header('content-length') ?? 0), headers, bodyBytes: 0, fault: null };
        const fault = takeFault(req);
        req.fault = fault?.kind ?? null;
        seen.push(req);
        events.emit('request', req);
        current = { req, fault, sent: 0, answered: 0 };
        bodyLeft = req.contentLength;
        if (/chunked/i.test(header('transfer-encoding') ?? '')) opaque = true;
        if (fault?.kind === 'respond') {
          // A client waiting for "100 Continue" sends no body: answer now, as servers do.
          if (bodyLeft === 0 || /100-continue/i.test(header('expect') ?? '')) respond(fault, req);
          continue;
        }
        forwardUp(headerBytes, false);
      }
    };
    client.on('data', onClientData);

    upstream.on('data', (data: Buffer) => {
      const c = current;
      const f = c?.fault;
      let chunk = data;
      let fires = false;
      if (c !== null && f !== null && f !== undefined && f.kind !== 'respond' && f.direction === 'response' && c.answered <= f.afterBytes) {
        const room = f.afterBytes - c.answered;
        fires = chunk.length >= room;
        if (fires) chunk = chunk.subarray(0, room);
      }
      if (c !== null) c.answered += chunk.length;
      down.push(chunk);
      if (fires) fire(down, f!, c!.req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    inject: (fault) => void armed.push(fault),
    slow: (bps) => void (rate = bps),
    requests: () => seen.map((r) => ({ ...r })),
    bytesUp: () => totals.up,
    bytesDown: () => totals.down,
    events,
    async next(event, pred = () => true) {
      for (;;) {
        const [r] = (await once(events, event)) as [SeenRequest];
        if (pred(r)) return r;
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One direction of a connection: an ordered queue, optionally paced; steps run in queue order. */
interface Lane {
  push(bytes: Buffer): void;
  /** Runs `step` once everything pushed so far was written. */
  then(step: () => void): void;
  /** Once everything pushed so far was written, writes nothing more, ever. */
  stall(): void;
}

const HIGH_WATER = 256 * 1024;

function lane(from: net.Socket, to: net.Socket, rate: () => number | null, count: (n: number) => void): Lane {
  const queue: (Buffer | (() => void))[] = [];
  let queued = 0;
  let running = false;
  let stalled = false;
  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    while (queue.length > 0 && !stalled && !to.destroyed) {
      const item = queue.shift()!;
      if (typeof item === 'function') {
        item();
        continue;
      }
      for (let at = 0; at < item.length && !stalled && !to.destroyed; ) {
        const bps = rate();
        const slice = item.subarray(at, bps === null ? item.length : at + Math.max(1, Math.floor(bps / 20)));
        if (bps !== null) await delay((slice.length / bps) * 1000);
        if (stalled || to.destroyed) break;
        to.write(slice);
        count(slice.length);
        at += slice.length;
        queued -= slice.length;
      }
      if (queued < HIGH_WATER && !stalled) from.resume();
    }
    running = false;
  };
  return {
    push(bytes) {
      if (bytes.length === 0) return;
      queue.push(bytes);
      queued += bytes.length;
      // Back-pressure: hold the source while a paced or stalled queue is long.
      if (queued >= HIGH_WATER) from.pause();
      void pump();
    },
    then(step) {
      queue.push(step);
      void pump();
    },
    stall() {
      queue.push(() => {
        stalled = true;
        from.pause();
      });
      void pump();
    },
  };
}
