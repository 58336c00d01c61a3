/**
 * Test helpers that drive the real, built CLI (`dist/src/cli/main.js`) as a user or a script
 * would: spawn it, read its JSON log lines, run one-shot commands and read their output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);

export type LogLine = Record<string, unknown> & { level: string; message: string; event?: string };

export interface DaemonHandle {
  proc: ChildProcess;
  lines: LogLine[];
  /** Everything the daemon printed, for failure messages. */
  output(): string;
  /** Resolves with the first log line (already seen or future) that matches. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The argv that runs `ckptd <args>`: `node CLI <args>`, or behind `wrap` (a command prefix such as
 * `['nsenter', '-t', PID, ...]` or `['setpriv', '--bounding-set=...', '--']`) that execs the rest.
 */
function cliArgv(args: string[], wrap: string[] = []): [string, string[]] {
  const argv = [...wrap, process.execPath, CLI, ...args];
  return [argv[0]!, argv.slice(1)];
}

/**
 * Starts `ckptd <args>` (e.g. `daemon --config X`) and collects its JSON log lines. With `wrap`,
 * the CLI runs behind that command prefix (it must exec the CLI, so `proc.pid` is the daemon's).
 */
export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}, wrap: string[] = []): DaemonHandle {
  const [cmd, argv] = cliArgv(args, wrap);
  const proc = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let raw = '';
  let buf = '';
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    output: () => raw,
    waitFor(pred, timeoutMs = 30_000, what = 'a log line') {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; daemon output:\n${raw.slice(-6000)}`));
        }, timeoutMs);
        waiters.push(w);
        void exited.then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(new Error(`daemon exited (${code}) while waiting for ${what}; output:\n${raw.slice(-6000)}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a one-shot `ckptd` command to completion (behind the command prefix `wrap`, if given). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; wrap?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = cliArgv(args, opts.wrap);
    const proc = spawn(cmd, argv, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ckptd ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'ckptd-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      // Snapshot files are read-only; make them removable first.
      const chmodAll = (p: string): void => {
        try {
          const st = fs.lstatSync(p);
          if (st.isSymbolicLink()) return;
          fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
          if (st.isDirectory()) for (const n of fs.readdirSync(p)) chmodAll(path.join(p, n));
        } catch {
          /* already gone */
        }
      };
      chmodAll(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
