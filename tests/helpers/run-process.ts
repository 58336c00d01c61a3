/**
 * Test helpers for `ckptd run`: spawn the built CLI in its own session (so no test runner's
 * terminal or process group takes part in signal delivery), collect its output and JSON log lines,
 * and a small trainer script that writes epochs, crashes on request, traps signals and reports
 * what it saw (its environment, arguments and the hashes of the run's files at start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, tempDir, type LogLine } from './daemon-process.js';

export interface RunHandle {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** ckptd's JSON log lines so far (on stderr; stdout is the trainer's). */
  lines(): LogLine[];
  /** Resolves when ckptd exits (not when its pipes close: an orphaned trainer may hold them). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `ckptd <args>` detached (its own session and process group). */
export function startRun(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): RunHandle {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    lines: () =>
      err.split('\n').flatMap((l) => {
        try {
          const v = JSON.parse(l) as unknown;
          return typeof v === 'object' && v !== null ? [v as LogLine] : [];
        } catch {
          return [];
        }
      }),
    exited,
  };
}

/** Runs `ckptd <args>` to its end; kills it (and fails) after `timeoutMs`. */
export async function runToEnd(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; lines: LogLine[] }> {
  const h = startRun(args, env);
  const timer = setTimeout(() => h.proc.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await h.exited;
  clearTimeout(timer);
  if (signal === 'SIGKILL') throw new Error(`ckptd ${args.join(' ')} timed out; stderr:\n${h.stderr()}\nstdout:\n${h.stdout().slice(-4000)}`);
  return { code, signal, stdout: h.stdout(), stderr: h.stderr(), lines: h.lines() };
}

/** Resolves once `file` exists; rejects after `timeoutMs`. */
export async function waitForFile(file: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/**
 * The trainer script (plain ESM, run with `node`). Reads TRAINER_RUN (the run folder) and
 * TRAINER_OUT (where it reports). At start it prints `trainer <label> up` and writes `<out>/<label>.start.json` with its CKPTD_*
 * environment, argv, pid and the sha256 of the run's `model.bin` and `state.json`. Options:
 * `--epochs N` train up to epoch N, continuing after the epoch in `state.json`;
 * `--wait-backups` after each epoch but the last, wait until the store holds a backup of it;
 * `--crash-at E` at epoch E write a torn `model.bin` and die (`--crash-how kill`: SIGKILL itself;
 * else exit 1); `--exit N` exit code at the end; `--trap` write `<label>.ready`, then on SIGINT,
 * SIGTERM or SIGHUP record every signal received in the next 400 ms in `<label>.signals.json` and exit 0.
 */
export const TRAINER_SCRIPT = `
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i === -1 ? def : args[i + 1]; };
const flag = (name) => args.includes(name);
const runDir = process.env.TRAINER_RUN;
const out = process.env.TRAINER_OUT;
const label = opt('--label', 'run');
const model = path.join(runDir, 'model.bin');
const stateFile = path.join(runDir, 'state.json');
const sha = (f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const files = {};
for (const f of ['model.bin', 'state.json']) if (fs.existsSync(path.join(runDir, f))) files[f] = sha(path.join(runDir, f));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CKPTD_')));
fs.writeFileSync(path.join(out, label + '.start.json'), JSON.stringify({ env, argv: args, files, pid: process.pid }));
console.log('trainer ' + label + ' up');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
if (flag('--trap')) {
  const got = [];
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {
    got.push(s);
    if (got.length === 1) setTimeout(() => { fs.writeFileSync(path.join(out, label + '.signals.json'), JSON.stringify(got)); process.exit(0); }, 400);
  });
  fs.writeFileSync(path.join(out, label + '.ready'), '');
  setInterval(() => {}, 1000);
} else {
  const waitBackup = async (epoch) => {
    const dir = path.join(process.env.CKPTD_STORE, 'snapshots');
    for (let i = 0; i < 300; i++) {
      for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        try {
          const m = JSON.parse(fs.readFileSync(path.join(dir, id, 'snapshot.json'), 'utf8'));
          if (m.kind === 'backup' && m.epoch === epoch) return;
        } catch {}
      }
      await sleep(50);
    }
    process.exit(99);
  };
  fs.mkdirSync(runDir, { recursive: true });
  const start = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')).epoch : 0;
  const epochs = Number(opt('--epochs', '3'));
  const crashAt = Number(opt('--crash-at', '0'));
  for (let e = start + 1; e <= epochs; e++) {
    if (e === crashAt) {
      fs.writeFileSync(model, 'torn half-written model');
      if (opt('--crash-how', 'exit') === 'kill') process.kill(process.pid, 'SIGKILL');
      process.exit(1);
    }
    fs.writeFileSync(model, ('model after epoch ' + e + '\\n').repeat(2000));
    fs.writeFileSync(stateFile, JSON.stringify({ epoch: e, step: e * 100 }));
    if (e < epochs && flag('--wait-backups')) await waitBackup(e);
  }
  process.exit(Number(opt('--exit', '0')));
}
`;

/** A trainer's world in a fresh temp folder: `run/` (the run), `out/` (its reports), `trainer.mjs`; `env` points the trainer at them. */
export function trainerFolders(prefix: string): { dir: string; run: string; out: string; trainer: string; env: NodeJS.ProcessEnv; cleanup: () => void } {
  const t = tempDir(prefix);
  const run = path.join(t.dir, 'run');
  const out = path.join(t.dir, 'out');
  fs.mkdirSync(run);
  fs.mkdirSync(out);
  const trainer = path.join(t.dir, 'trainer.mjs');
  fs.writeFileSync(trainer, TRAINER_SCRIPT);
  return { dir: t.dir, run, out, trainer, env: { TRAINER_RUN: run, TRAINER_OUT: out }, cleanup: t.cleanup };
}

/** What the trainer reported at start (`<label>.start.json`). */
export interface TrainerStart {
  env: Record<string, string>;
  argv: string[];
  files: Record<string, string>;
  pid: number;
}

/** Reads `<out>/<label>.start.json`. */
export function trainerStart(out: string, label: string): TrainerStart {
  return JSON.parse(fs.readFileSync(path.join(out, `${label}.start.json`), 'utf8')) as TrainerStart;
}
