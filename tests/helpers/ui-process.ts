/**
 * `ckptd ui` as a person starts it, for the end-to-end tests: a child process on a free port that
 * prints its URL (with the access token after `#`), stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './daemon-process.js';

export interface UiProcess {
  proc: ChildProcess;
  /** The URL it printed, with the token in its fragment. */
  url: string;
  port: number;
  token: string;
  /** Everything it wrote so far (stdout and stderr). */
  output: () => string;
  /** SIGTERM, then waits for it to exit. */
  stop: () => Promise<void>;
}

/**
 * Starts `ckptd ui --no-open --port 0 --config cfg` (with `env` added; without `--no-open` when
 * `o.open`) and reads the URL it prints.
 */
export async function startUi(cfg: string, env: NodeJS.ProcessEnv = {}, o: { open?: boolean } = {}): Promise<UiProcess> {
  const args = [CLI, 'ui', ...(o.open ? [] : ['--no-open']), '--port', '0', '--config', cfg];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ckptd ui printed no URL within 15 s:\n${out}`)), 15_000);
    const look = (): void => {
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', look);
    proc.on('exit', (code) => reject(new Error(`ckptd ui exited ${code}:\n${out}`)));
  });
  const u = new URL(url);
  return {
    proc,
    url,
    port: Number(u.port),
    token: new URLSearchParams(u.hash.slice(1)).get('token')!,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
