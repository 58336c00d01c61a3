/**
 * A trainer-like writer for the fault tests: a child process that writes a new multi-file state
 * every `pauseMs` (some files in place, one by write-then-rename, one in a sub-folder), each file
 * self-validating so that a torn or mixed copy is detectable from its bytes alone.
 *
 * File format: a header line `CKPTD-FAULT <name> gen=<n> size=<bytes>\n`, then every remaining
 * byte equal to `fillByte(n)`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The files of each state: relative path, size in bytes, how the trainer writes it. */
export const TRAINER_FILES: readonly { path: string; size: number; how: 'in-place' | 'rename' }[] = [
  { path: 'weights.bin', size: 3 << 20, how: 'in-place' },
  { path: 'optimizer.bin', size: 2 << 20, how: 'rename' },
  { path: 'extra/rng_state.bin', size: 64 << 10, how: 'in-place' },
];

const SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const [dir, pauseMs, filesJson] = process.argv.slice(1);
const files = JSON.parse(filesJson);
const content = (name, size, gen) => {
  const buf = Buffer.alloc(size, (gen % 250) + 1);
  buf.write('CKPTD-FAULT ' + name + ' gen=' + gen + ' size=' + size + '\\n');
  return buf;
};
let gen = 0;
const step = () => {
  gen++;
  for (const f of files) {
    const file = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const buf = content(f.path, f.size, gen);
    if (f.how === 'rename') {
      fs.writeFileSync(file + '.tmp', buf);
      fs.renameSync(file + '.tmp', file);
    } else fs.writeFileSync(file, buf);
  }
  process.stdout.write(gen + '\\n');
  setTimeout(step, Number(pauseMs));
};
step();
`;

/** A running trainer: `generation()` is the last state it finished writing. */
export interface Trainer {
  proc: ChildProcess;
  generation(): number;
  /** Waits until the trainer has finished writing at least generation `n`. */
  waitFor(n: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the trainer writing into `dir` (created as needed) every `pauseMs`. */
export function startTrainer(dir: string, pauseMs: number): Trainer {
  const proc = spawn(process.execPath, ['-e', SCRIPT, dir, String(pauseMs), JSON.stringify(TRAINER_FILES)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let gen = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim() !== '') gen = Math.max(gen, Number(line));
    for (const w of [...waiters]) if (gen >= w.n) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    proc,
    generation: () => gen,
    waitFor: (n) => (gen >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Why the stored copy `file` of the trainer's file `rel` is not a whole version the trainer wrote
 * (torn, truncated, mixed), or null when it is one.
 */
export function trainerFileProblem(file: string, rel: string): string | null {
  const buf = fs.readFileSync(file);
  const nl = buf.indexOf(10);
  const header = buf.subarray(0, Math.max(0, nl)).toString('latin1');
  const m = /^CKPTD-FAULT (\S+) gen=(\d+) size=(\d+)$/.exec(header);
  if (!m) return `${rel}: no valid header (${JSON.stringify(header.slice(0, 60))})`;
  if (m[1] !== rel) return `${rel}: header names ${m[1]}`;
  const size = Number(m[3]);
  if (buf.length !== size) return `${rel}: ${buf.length} bytes, its header says ${size} (torn)`;
  const fill = (Number(m[2]) % 250) + 1;
  for (let i = nl + 1; i < buf.length; i++) if (buf[i] !== fill) return `${rel}: byte ${i} is ${buf[i]}, not ${fill} (mixed versions)`;
  return null;
}

/** Every problem of the trainer's files stored in `filesDir` (a snapshot's `files/`), with `paths` from its manifest. */
export function trainerSnapshotProblems(filesDir: string, paths: string[]): string[] {
  const known = new Set(TRAINER_FILES.map((f) => f.path));
  return paths
    .filter((p) => known.has(p))
    .map((p) => trainerFileProblem(path.join(filesDir, p), p))
    .filter((p): p is string => p !== null);
}
