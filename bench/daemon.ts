/**
 * Running the built `ckptd` CLI from the bench: the daemon with its JSON log lines (each stamped
 * with the moment it arrived), and one-shot commands timed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { CLI } from './lib.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

export type LogLine = Record<string, unknown> & { level: string; message: string; event?: string; run?: string };

/** A log line and when it reached the bench (`performance.now()`). */
export interface Arrived {
  line: LogLine;
  at: number;
}

export interface Daemon {
  proc: ChildProcess;
  pid: number;
  lines: Arrived[];
  /** Resolves with the first line (already seen or future, from index `from` on) that matches. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string, from?: number): Promise<Arrived>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function startDaemon(config: string): Daemon {
  // As `bin/ckptd` starts it: what users run.
  const proc = spawn(process.execPath, [...NODE_FLAGS, CLI, 'daemon', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Arrived[] = [];
  let raw = '';
  let buf = '';
  const waiters: { pred: (l: LogLine) => boolean; from: number; resolve: (a: Arrived) => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const at = performance.now();
    raw = (raw + chunk).slice(-20_000);
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      const a = { line, at };
      lines.push(a);
      for (const w of [...waiters]) {
        if (lines.length - 1 >= w.from && w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(a);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (raw = (raw + chunk).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    pid: proc.pid!,
    lines,
    waitFor(pred, timeoutMs, what, from = 0) {
      const seen = lines.slice(from).find((a) => pred(a.line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; daemon output:\n${raw.slice(-4000)}`));
        }, timeoutMs);
        const w = { pred, from, resolve: (a: Arrived) => (clearTimeout(timer), resolve(a)) };
        waiters.push(w);
        void exited.then((code) => {
          if (!waiters.includes(w)) return;
          clearTimeout(timer);
          reject(new Error(`the daemon exited (${code}) while the bench waited for ${what}; output:\n${raw.slice(-4000)}`));
        });
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Runs `ckptd <args>` to completion: exit code, stdout, stderr and the wall time in seconds. With
 * `stdoutFile`, stdout goes to that file (read back after the exit) instead of a pipe.
 */
export function runCli(args: string[], opts: { stdoutFile?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const fd = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : null;
    const t0 = performance.now();
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (fd !== null) {
        fs.closeSync(fd);
        stdout = fs.readFileSync(opts.stdoutFile!, 'utf8');
      }
      resolve({ code, stdout, stderr, seconds });
    });
  });
}
