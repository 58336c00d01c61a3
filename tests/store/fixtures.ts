import { execFileSync } from 'node:child_process';
/** Shared helpers for the store tests: temp folders, files with content, hashing, a scan of everything. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { scanState } from '../../src/store/scan.js';
import { kernelAtLeast } from '../../src/store/sync-fs.js';
import type { ScanEntry } from '../../src/store/types.js';
import type { WriteSaveOptions } from '../../src/store/write-save.js';
import { writeSnapshot, type WriteSnapshotOptions } from '../../src/store/write-snapshot.js';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
});

/** A new temp folder under os.tmpdir(), removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckptd-store-test-'));
  made.push(dir);
  return dir;
}

/** A run folder and a store folder side by side in a new temp folder. */
export async function runAndStore(): Promise<{ base: string; run: string; store: string }> {
  const base = await tempDir();
  const run = path.join(base, 'run');
  const store = path.join(base, 'store');
  await fsp.mkdir(run);
  return { base, run, store };
}

/** Writes `content` at `root/rel`, creating folders. */
export function put(root: string, rel: string, content: string | Buffer): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/**
 * A trainer's save of `step` made in the order DeepSpeed makes it: a new folder `step<N>` holding
 * `file`, then the `latest` pointer rewritten in place to name it; everything settled (aged).
 */
export function saveStep(run: string, step: number, file = 'model.pt'): void {
  for (const [rel, content] of [[`step${step}/${file}`, Buffer.alloc(4096, step % 251)], ['latest', `step${step}`]] as const) age(put(run, rel, content));
}

/** Sets a file's mtime `secondsAgo` in the past (so a later write surely changes it). */
export function age(file: string, secondsAgo = 60): void {
  const t = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(file, t, t);
}

/**
 * Rewrites `file` with `content` and puts its mtime back to the nanosecond, as `cp -p` + `touch -r`
 * do (a Date or a float in seconds loses nanoseconds, so the mtime would not quite match).
 */
export function rewriteKeepingMtime(file: string, content: string | Buffer): void {
  const ref = `${file}.mtime-ref-${process.pid}`;
  execFileSync('touch', ['-r', file, ref]);
  try {
    fs.writeFileSync(file, content);
    execFileSync('touch', ['-r', ref, file]);
  } finally {
    fs.rmSync(ref, { force: true });
  }
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}

/** Every file of the run (nothing excluded but the store). */
export function scanAll(run: string, store: string): Promise<ScanEntry[]> {
  return scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });
}

/** Scans the run and writes a backup snapshot of it. */
export async function snap(run: string, store: string, extra: Partial<WriteSnapshotOptions> = {}) {
  return writeSnapshot({
    store,
    runName: 'r',
    runDir: run,
    entries: await scanAll(run, store),
    kind: 'backup',
    trigger: 'test',
    progress: NO_PROGRESS,
    previous: null,
    now: Date.now(),
    settleMs: 0,
    ...extra,
  });
}

/** Whether a capture into `dir` may use syncfs: Linux 5.8+ on a local disk file system (see sync-fs.ts). */
export function syncfsUsable(dir: string): boolean {
  const local = [0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x01021994];
  return process.platform === 'linux' && kernelAtLeast(os.release(), [5, 8]) && local.includes(fs.statfsSync(dir).type);
}

/** What `writeSave` needs to export the run's `files` (globs) into `saveTo`, no progress, captured from the run. */
export async function saveOptions(run: string, store: string, saveTo: string, files: string[]): Promise<WriteSaveOptions> {
  return { store, saveTo, runName: 'r', prefix: '', files, from: null, runDir: run, entries: await scanAll(run, store), progress: NO_PROGRESS, trigger: 'test', now: Date.now() };
}

/** The two shapes of a save: one model file, and a folder of them. */
export const SAVE_SHAPES: [string, string[]][] = [
  ['one model file', ['model.safetensors']],
  ['a folder of model files', ['unet/model.safetensors', 'text/model.safetensors']],
];

/** A run holding `models` (settled) and its store, with `save.to` beside them, and what `writeSave` needs to export them. */
export async function runToSave(models: string[]): Promise<{ run: string; store: string; saveTo: string; opts: WriteSaveOptions }> {
  const { base, run, store } = await runAndStore();
  for (const m of models) age(put(run, m, `weights of ${m}`));
  const saveTo = path.join(base, 'exports');
  return { run, store, saveTo, opts: await saveOptions(run, store, saveTo, ['**/*.safetensors']) };
}
