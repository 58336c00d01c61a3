/**
 * Whether the folders a run names can be used: its `path`, its `store` (given or the default) and
 * a `save.to` the YAML names. Contract: reads the file system (stat, access), never writes, and
 * returns problems by key path (relative to the run) for the loader to locate. A folder that does
 * not exist yet is fine (the trainer creates the run folder, ckptd the store); one that is a file,
 * lies under a file, cannot be entered or read (EACCES), or goes through a symbolic link loop
 * (ELOOP) is a problem that names the place and what to change. Whether the store is writable is
 * not checked here: commands that only read (list, show, status) work on a read-only store.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunConfig } from './types.js';
import type { KeyPath } from './yaml-positions.js';
import { ckptdUser } from '../util/run-as.js';

/** Why a folder cannot be used, and the place on its way that is the cause. */
type Blocked =
  | { kind: 'file' | 'not-folder' | 'enter' | 'read' | 'loop'; at: string }
  | { kind: 'other'; at: string; message: string };

/** One problem of a run's places, at a key path relative to the run (`['store']`). */
export interface PlaceProblem {
  keyPath: KeyPath;
  /** What is wrong (`/data/x is a file, not a folder`). */
  reason: string;
  /** What to change in the config (`set path to the folder the trainer writes`). */
  fix: string;
}

/** Every problem of the run's places, in the order path, store, save.to; none when all can be used. */
export function runPlaceProblems(run: RunConfig): PlaceProblem[] {
  const defaultStore = run.store === path.join(path.dirname(run.path), '.ckptd', run.name);
  const places: { keyPath: KeyPath; dir: string; fix: string }[] = [
    { keyPath: ['path'], dir: run.path, fix: 'set path to the folder the trainer writes' },
    defaultStore
      ? { keyPath: ['path'], dir: run.store, fix: `set store to a folder ckptd can use (the default, <path's parent>/.ckptd/${run.name}, cannot be used)` }
      : { keyPath: ['store'], dir: run.store, fix: `set store to a folder (or leave it out for the default, <path's parent>/.ckptd/${run.name})` },
  ];
  if (run.save.to !== path.join(run.store, 'saves')) {
    places.push({ keyPath: ['save', 'to'], dir: run.save.to, fix: 'set save.to to a folder (or leave it out: saves then go to <store>/saves)' });
  }
  const problems: PlaceProblem[] = [];
  for (const { keyPath, dir, fix } of places) {
    // The default store sits beside the run folder: what blocks that folder is said once, at path.
    if (defaultStore && dir === run.store && problems.length > 0) continue;
    const blocked = blockedAt(dir);
    if (blocked === null) continue;
    const permission = blocked.kind === 'enter' || blocked.kind === 'read';
    problems.push({ keyPath, reason: describe(dir, blocked), fix: permission ? `give ${ckptdUser()} access, or ${fix}` : fix });
  }
  return problems;
}

/**
 * Walks from the root to `dir`, returning the first place that stops it: a file, a folder that
 * cannot be entered, a link loop, or `dir` itself unreadable. Null when `dir` can be used or does
 * not exist yet.
 */
function blockedAt(dir: string): Blocked | null {
  const steps: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    steps.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const [i, p] of steps.entries()) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') return { kind: 'loop', at: p };
      if (code === 'EACCES') return { kind: 'enter', at: path.dirname(p) };
      return { kind: 'other', at: p, message: (err as Error).message };
    }
    if (!st.isDirectory()) return { kind: st.isFile() ? 'file' : 'not-folder', at: p };
    const last = i === steps.length - 1;
    try {
      // Every folder on the way must be searchable; the folder itself also listable.
      fs.accessSync(p, last ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.X_OK);
    } catch {
      return { kind: last ? 'read' : 'enter', at: p };
    }
  }
  return null;
}

function describe(dir: string, b: Blocked): string {
  const under = b.at === dir ? '' : `, so ${dir} cannot be a folder`;
  switch (b.kind) {
    case 'file':
      return `${b.at} is a file, not a folder${under}`;
    case 'not-folder':
      return `${b.at} is not a folder (a device, pipe or socket)${under}`;
    case 'enter':
      return `permission denied: ckptd cannot enter ${b.at}${b.at === dir ? '' : ` on the way to ${dir}`}`;
    case 'read':
      return `permission denied: ckptd cannot read ${dir}`;
    case 'loop':
      return `${b.at} is a symbolic link that loops (it leads back to itself)${b.at === dir ? '' : ` on the way to ${dir}`}`;
    case 'other':
      return `cannot use ${dir}: ${b.message}`;
  }
}
