/**
 * Stopping a child `node` (the built CLI, or a test's own writer) at an exact point of its work,
 * made observable by the call itself rather than guessed from how long a copy takes: see
 * `pause-at.mjs`, the preload that does it.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pause-at.mjs');

export interface PausePoint {
  op: 'open' | 'unlink' | 'rename';
  /** A regex source matched against the path (the destination of a rename). */
  path: string;
  /** Stop after the nth matching call (default 1). */
  nth?: number;
}

/** The environment that makes a child `node` stop (SIGSTOP) right after the call `at`. */
export function pauseEnv(at: PausePoint): NodeJS.ProcessEnv {
  const opts = `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim();
  return { NODE_OPTIONS: opts, CKPTD_TEST_PAUSE_AT: JSON.stringify(at) };
}

/** Escapes `s` for use as a literal in a `PausePoint.path` regex. */
export const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Resolves with the path the child stopped at once it has printed the marker and is stopped;
 * rejects with the child's output if it exits first or after `timeoutMs`.
 */
export function pausedAt(proc: ChildProcess, what: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    const onData = (c: Buffer | string): void => {
      err += c.toString();
      const m = /^ckptd-test-paused \S+ (.*)$/m.exec(err);
      if (m === null) return;
      done();
      // The marker is written right before the SIGSTOP the child sends itself: wait for the stop.
      const stopped = (): boolean => /^\d+ \(.*\) T/.test(fs.readFileSync(`/proc/${proc.pid}/stat`, 'utf8'));
      const poll = (): void => (stopped() ? resolve(m[1]!) : void setTimeout(poll, 1));
      poll();
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`the child exited (${code ?? signal}) before it reached ${what}; stderr:\n${err.slice(-4000)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the child did not reach ${what} within ${timeoutMs} ms; stderr:\n${err.slice(-4000)}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      proc.off('exit', onExit);
    };
    proc.stderr!.on('data', onData);
    proc.on('exit', onExit);
  });
}
