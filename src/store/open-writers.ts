/**
 * Which processes hold files open for writing (Linux): one pass over `/proc/<pid>/fd`, reading
 * the open flags from `/proc/<pid>/fdinfo`. Used to hold back a capture (or a restore) while a
 * trainer still writes.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** One process holding one of the asked-about files open for writing. */
export interface OpenWriter {
  /** The path as the caller gave it (for a folder given: the file inside it). */
  path: string;
  pid: number;
  /** The process name from `/proc/<pid>/comm`. */
  command: string;
}

const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;

/**
 * Processes holding any of `paths` (absolute), or any file under one of them when it is a folder,
 * open for writing (O_WRONLY or O_RDWR). Paths are matched after resolving symlinks in their
 * parent folders, as /proc shows them. Processes whose fds cannot be read (other users, gone
 * meanwhile) are ignored; this process is included. Returns [] on platforms other than Linux.
 */
export async function findOpenWriters(paths: string[]): Promise<OpenWriter[]> {
  if (process.platform !== 'linux' || paths.length === 0) return [];
  const wanted = await realPaths(paths);
  let pids: string[];
  try {
    pids = (await fsp.readdir('/proc')).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const found: OpenWriter[] = [];
  for (let i = 0; i < pids.length; i += PIDS_PER_TURN) {
    // Between turns other work runs (the event loop is held at most a few ms).
    if (i > 0) await new Promise((r) => setImmediate(r));
    for (const pid of pids.slice(i, i + PIDS_PER_TURN)) found.push(...writersOf(pid, wanted));
  }
  return found;
}

/**
 * Processes looked at per turn of the event loop. The /proc calls are made synchronously: each
 * answers from memory in microseconds, while a promise per open file (a trip through the thread
 * pool each) made a scan of a few hundred descriptors take 15-20 ms on a quiet 2-core machine, and
 * up to 0.9 s was seen under load; this way it takes 4-6 ms. A shorter scan also shortens the
 * window in which a writer can open a file after its process was looked at.
 */
const PIDS_PER_TURN = 32;

function writersOf(pid: string, wanted: Map<string, string>): OpenWriter[] {
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = fs.readdirSync(fdDir);
  } catch {
    return [];
  }
  const out: OpenWriter[] = [];
  let command: string | null = null;
  for (const fd of fds) {
    const target = readOrNull(() => fs.readlinkSync(`${fdDir}/${fd}`));
    if (target === null || !target.startsWith('/')) continue;
    const asked = match(target, wanted);
    if (asked === null) continue;
    const info = readOrNull(() => fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    const flags = info?.match(/^flags:\s*([0-7]+)/m)?.[1];
    if (flags === undefined) continue;
    const mode = parseInt(flags, 8) & O_ACCMODE;
    if (mode !== O_WRONLY && mode !== O_RDWR) continue;
    command ??= (readOrNull(() => fs.readFileSync(`/proc/${pid}/comm`, 'utf8')) ?? '?').trim();
    out.push({ path: asked, pid: Number(pid), command });
  }
  return out;
}

/** `read()`, or null when it throws (the process or descriptor is gone, or not ours to read). */
function readOrNull(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** The caller's path for `target` when it is one of the wanted paths or lies under one. */
function match(target: string, wanted: Map<string, string>): string | null {
  const exact = wanted.get(target);
  if (exact !== undefined) return exact;
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const base = wanted.get(dir);
    if (base !== undefined) return path.join(base, path.relative(dir, target));
    if (dir === '/') return null;
  }
}

/** Real path (parent folders resolved, the last component kept) -> the path as given. */
async function realPaths(paths: string[]): Promise<Map<string, string>> {
  const parents = new Map<string, string>();
  const out = new Map<string, string>();
  for (const p of paths) {
    // A capture asks about every file of the run (100,000: 0.6 s through path.resolve/dirname/join
    // each); its paths are absolute and normalized already, so they are split by hand.
    const abs = path.isAbsolute(p) && !p.endsWith('/') && path.normalize(p) === p ? p : path.resolve(p);
    const cut = abs.lastIndexOf('/');
    const dir = cut <= 0 ? '/' : abs.slice(0, cut);
    let real = parents.get(dir);
    if (real === undefined) {
      real = await fsp.realpath(dir).catch(() => dir);
      parents.set(dir, real);
    }
    out.set(real === '/' ? `/${abs.slice(cut + 1)}` : `${real}/${abs.slice(cut + 1)}`, abs);
  }
  return out;
}
