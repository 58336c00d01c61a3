/**
 * Server-Sent Events for the Version panel: every open page gets each event (`records`: a run's
 * records changed; `runs`: the config's runs changed; `op`: an operation started, progressed,
 * finished or failed). A comment line every 15 s keeps idle connections (and proxies) from timing out.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withoutCredentials } from '../client/remote-status.js';

export type PanelEvent =
  | { type: 'records'; run: string }
  | { type: 'runs' }
  | {
      type: 'op';
      run: string;
      /** Which operation: `snapshot`, `restore`, `delete`, `label`, `pull`, `push`. */
      op: string;
      /** The record it is about (null for a snapshot not taken yet). */
      id: string | null;
      state: 'started' | 'progress' | 'done' | 'failed';
      /** Bytes done and in all, for `progress`. */
      done?: number;
      total?: number;
      message?: string;
    };

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(heartbeatMs = 15_000) {
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  /** Turns `res` into an event stream that receives every event from now on. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    const drop = (): void => void this.clients.delete(res);
    req.on('close', drop);
    res.on('error', drop);
  }

  /** Sends `event` to every open page. */
  send(event: PanelEvent): void {
    const { type, ...data } = event;
    // A remote's error message goes to the page: never with a credential in it.
    const frame = `event: ${type}\ndata: ${withoutCredentials(JSON.stringify(data))}\n\n`;
    for (const c of this.clients) c.write(frame);
  }

  /** How many pages are listening. */
  get size(): number {
    return this.clients.size;
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
