/**
 * Acting inside a folder (the run, a restore target, a save folder) without ever following a
 * symlink out of it. Node has no `openat`/`mkdirat`, so every mkdir, rename and unlink under such a
 * folder is preceded by `walkInside` (each component checked with lstat at that moment) and
 * followed by `assertStillInside` (realpath of the folder acted in), which together shrink the
 * window a swapped folder could use to a few system calls and report any swap that happened in it.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SafetyError } from '../util/errors.js';

export interface WalkOptions {
  /** Make each missing folder (non-recursive mkdir, `mode`); without it a missing folder returns null. */
  create?: boolean;
  mode?: number;
  /** Receives the absolute path of every folder this walk made, outermost first. */
  created?: string[];
}

/**
 * The absolute path of folder `rel` (a safe relative POSIX path, `.` for `root` itself) under
 * `root`, once every component from `root` down has been checked with lstat to be a real folder.
 * `root` must be a real path (the caller's `fsp.realpath` of it); it is checked too. Throws a
 * SafetyError naming the first component that is a symlink or not a folder: nothing is created
 * past it. Returns null when a component is missing and `create` is not set.
 */
export async function walkInside(root: string, rel: string, opts: WalkOptions = {}): Promise<string | null> {
  const parts = rel === '.' || rel === '' ? [] : rel.split('/');
  let dir = root;
  let made = false;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) dir = path.join(dir, parts[i - 1]!);
    let st = await fsp.lstat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (st === null) {
      if (opts.create !== true || i === 0) return null;
      try {
        await fsp.mkdir(dir, { mode: opts.mode ?? 0o755 });
        opts.created?.push(dir);
        made = true;
      } catch (err) {
        // Made by someone else meanwhile: judged below like any existing component.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      st = await fsp.lstat(dir);
    }
    if (st.isSymbolicLink()) throw new SafetyError(`refusing to act under ${dir}: it is a symlink (to ${await linkText(dir)}), which could lead outside ${root}; nothing there was changed`);
    if (!st.isDirectory()) throw new SafetyError(`refusing to act under ${dir}: it is not a folder; nothing there was changed`);
  }
  // A folder swapped between the lstat and the mkdir would have put the new one elsewhere.
  if (made) await assertStillInside(root, dir);
  return dir;
}

/**
 * Checks after the fact that `dir` (built by `walkInside` from a real `root`) still resolves to
 * itself, i.e. no folder on its path became a symlink while the caller acted in it. Throws a
 * SafetyError naming where it leads now.
 */
export async function assertStillInside(root: string, dir: string): Promise<void> {
  const real = await fsp.realpath(dir).catch(() => null);
  if (real !== dir) {
    throw new SafetyError(`${dir} changed while ckptd acted in it: it now ${real === null ? 'is gone' : `leads to ${real}`}; stopped, nothing more is changed under ${root}`);
  }
}

async function linkText(p: string): Promise<string> {
  return fsp.readlink(p).then((t) => JSON.stringify(t), () => 'somewhere');
}

/**
 * Throws `SafetyError` unless `dir` is missing or a real folder: for a folder ckptd empties whole
 * (`.staging/`, `.trash/`, a remote run's scratch folder), where a symlink would have every entry
 * of the folder it points at removed.
 */
export async function assertOwnFolder(dir: string): Promise<void> {
  const st = await fsp.lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st === null || st.isDirectory()) return;
  const what = st.isSymbolicLink() ? `a symlink (to ${await linkText(dir)})` : 'not a folder';
  throw new SafetyError(
    `refusing to empty ${path.basename(dir)}: ${dir} is ${what}, not the folder ckptd made; nothing in it was removed. ` +
      'Replace it with an empty folder (ckptd removes everything in it)',
  );
}
