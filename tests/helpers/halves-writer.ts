/**
 * A trainer that writes a checkpoint in place in two halves and pauses between them with the file
 * open (what `torch.save` into an existing file looks like to anyone copying it meanwhile).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Rewrites the file in place in two halves: the first at once (fill byte 2), then it prints `half`
 * and holds the file open until a line arrives on stdin; then the second half, close, `closed`,
 * exit. The new version has the file's size, or the size given after the file (a checkpoint that
 * grew).
 */
const HALVES_WRITER = `
const fs = require('node:fs');
const file = process.argv[1];
const size = Number(process.argv[2] ?? fs.statSync(file).size);
const half = size >> 1;
const fd = fs.openSync(file, 'r+');
fs.writeSync(fd, Buffer.alloc(half, 2), 0, half, 0);
process.stdout.write('half\\n');
process.stdin.once('data', () => {
  fs.writeSync(fd, Buffer.alloc(size - half, 2), 0, size - half, half);
  fs.closeSync(fd);
  process.stdout.write('closed\\n');
  process.exit(0);
});
`;

export interface HalvesWriter {
  proc: ChildProcess;
  /** Resolves once the writer printed `word` (`half`, `closed`). */
  said: (word: string) => Promise<void>;
  /** Lets the writer write the second half and close the file. */
  go: () => void;
}

/**
 * Starts the writer on `file` (new size `size`, default the file's). The caller kills it after the
 * test (`stopWriters`).
 */
export function startWriter(file: string, size?: number): HalvesWriter {
  const proc = spawn(process.execPath, ['-e', HALVES_WRITER, file, ...(size === undefined ? [] : [String(size)])], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(proc);
  let out = '';
  const waiters: { word: string; resolve: () => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) if (out.split('\n').includes(w.word)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  return {
    proc,
    said: (word) => (out.split('\n').includes(word) ? Promise.resolve() : new Promise((resolve) => waiters.push({ word, resolve }))),
    go: () => proc.stdin!.write('go\n'),
  };
}

const started: ChildProcess[] = [];

/** Kills every writer still running (call from `afterEach`). */
export function stopWriters(): void {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
