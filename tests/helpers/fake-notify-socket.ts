/**
 * A fake systemd notify socket for tests: `fake-notify-socket.py` (Node cannot receive unix
 * datagrams) bound at a path, every datagram it receives parsed into a `NotifyMessage`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from './tools.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-notify-socket.py');

/** One datagram: its `KEY=VALUE` lines, the sender's PID (SCM_CREDENTIALS) and how many fds came with it. */
export interface NotifyMessage {
  pid: number | null;
  assignments: string[];
  fds: number;
}

export interface FakeNotifySocket {
  /** The socket's path, for `NOTIFY_SOCKET`. */
  path: string;
  /** Every datagram so far, in arrival order. */
  messages: NotifyMessage[];
  /** Resolves with the first message at index >= `from` that matches. */
  waitFor(pred: (m: NotifyMessage) => boolean, what: string, from?: number, timeoutMs?: number): Promise<NotifyMessage>;
  close(): Promise<void>;
}

/** True when `m` carries the assignment `a` (e.g. `READY=1`). */
export const has = (m: NotifyMessage, a: string): boolean => m.assignments.includes(a);

/**
 * Binds a fake notify socket at `socketPath`. With `holdBarrierAfter` (e.g. `STOPPING=1`), once
 * that assignment has arrived the fds sent with `BARRIER=1` are kept open: a manager that stops
 * confirming, so `systemd-notify` waits (up to its own 5 s timeout).
 */
export async function startFakeNotifySocket(socketPath: string, opts: { holdBarrierAfter?: string } = {}): Promise<FakeNotifySocket> {
  requireTool('python3', 'python3');
  const hold = opts.holdBarrierAfter ? ['--hold-barrier-after', opts.holdBarrierAfter] : [];
  const proc = spawn('python3', [SCRIPT, socketPath, ...hold], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  let stderr = '';
  let buf = '';
  let onLine: (() => void)[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('exit', (code) => reject(new Error(`fake notify socket exited (${code}): ${stderr}`)));
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'listening') resolve();
        else messages.push(JSON.parse(line) as NotifyMessage);
      }
      for (const f of onLine) f();
    });
  });
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  await ready;
  return {
    path: socketPath,
    messages,
    waitFor(pred, what, from = 0, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = messages.slice(from).find(pred);
          if (!m) return false;
          clearTimeout(timer);
          onLine = onLine.filter((f) => f !== listener);
          resolve(m);
          return true;
        };
        const listener = (): void => void check();
        const timer = setTimeout(() => {
          onLine = onLine.filter((f) => f !== listener);
          reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(messages.map((m) => m.assignments))}`));
        }, timeoutMs);
        if (!check()) onLine.push(listener);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
