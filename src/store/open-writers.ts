/**
 * Which processes hold files open for writing (Linux): one pass over `/proc/<pid>/fd`, reading
 * the open flags from `/proc/<pid>/fdinfo`, and over each process's shared writable mappings
 * (`shared-mappings.ts`: a file written through memory, with no descriptor left open). Used to
 * hold back a capture (or a restore) while a trainer still writes.
 *
 * A descriptor is matched by its path, and, when the caller names its files (`FilesByInode`), by
 * device and inode as well: a trainer in a container, or writing through a bind mount, holds the
 * run's file open under its own path (`/workspace/out/model.safetensors`), and that is the path
 * `/proc/<pid>/fd` shows, not the one ckptd watches. Of the descriptors open for writing whose
 * path matched nothing, those opened through a mount of the run's file system (fdinfo's `mnt_id`,
 * in the process's own mountinfo: `proc-mounts.ts`) give their inode: from the fdinfo where the
 * kernel shows it (5.14 and later), else from a stat through the fd's link. The caller's files are
 * then tested against that small set by inode, and a hit is confirmed with an lstat of the run's
 * file. A descriptor matched by path is tested too: a hard link inside the run is the same file
 * under a second run path, written whenever the first is. A descriptor on another file system is never stat'ed: on a hung network or FUSE mount (an
 * sshfs whose link dropped) that stat would hold a thread of the pool, and each later look
 * another, until every file call of the daemon waited. Nothing is built per file of the run:
 * memory stays the same for 10 files or 100,000.
 *
 * Cost: the links, flags and names under /proc reach no file system, so they are read
 * synchronously, `FDS_PER_SLICE` descriptors between yields; a promise per descriptor cost a
 * thread-pool round trip each (an fdinfo read is ~8 us on this thread). Measured on a 2-core VM
 * (one call, CPU): ~500 descriptors visible, 12-16 ms with a promise per call, now 4-6 ms by path
 * alone and 9-12 ms with a run of 100,000 files by inode too; with a process holding 3,000 more files open
 * (300 of them for writing), 95-130 ms before, now ~21 ms by path and ~58 ms with the inode pass.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { deviceOfOwnPath, MountDevices, parseFdInfo } from './proc-mounts.js';
import { sharedWritableMappings } from './shared-mappings.js';
import type { ScanEntry } from './types.js';

/** One process holding one of the asked-about files open for writing. */
export interface OpenWriter {
  /** The path as the caller gave it (for a folder given: the file inside it). */
  path: string;
  pid: number;
  /** The process name from `/proc/<pid>/comm`. */
  command: string;
  /**
   * The path the process holds the file open under, when it is not `path`: found by device and
   * inode (a bind mount, a container, another hard link).
   */
  seenAs?: string;
  /** It holds the file mapped shared and writable, with or without a descriptor (`shared-mappings.ts`). */
  mapped?: true;
}

/** The caller's files, to be matched by device and inode as well as by path (see the file comment). */
export interface FilesByInode {
  /** The folder the files' paths are relative to; reported paths are `dir/path`. */
  dir: string;
  /** The files as the caller scanned them; only regular files are matched. Read once, only when needed. */
  files: Iterable<Pick<ScanEntry, 'path' | 'type' | 'ino'>>;
}

/** `findOpenWriters`' shape, for callers that take another one in tests. */
export type FindWriters = (paths: string[], byInode?: FilesByInode) => Promise<OpenWriter[]>;

const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
/** Descriptors (and processes) read between two yields to the event loop: ~1-2 ms. */
const FDS_PER_SLICE = 256;
/** Descriptors stat'ed at once (in the thread pool). */
const PARALLEL_STATS = 32;
/** Trees whose files are never a run's file (terminals, /dev/null, kernel views): never stat'ed. */
const NOT_RUN_FILES = ['/dev/', '/proc/', '/sys/'];
/** The suffix /proc gives the path of an open file whose name was removed: no longer a run file. */
const DELETED = ' (deleted)';

/**
 * Processes holding any of `paths` (absolute), or any file under one of them when it is a folder,
 * open for writing (O_WRONLY or O_RDWR). Paths are matched after resolving symlinks in their
 * parent folders, as /proc shows them. With `byInode`, a regular file of `byInode.files` is also
 * reported when a process holds its inode open for writing under any other path (`seenAs`); a file
 * both ways may be reported twice. Processes whose fds cannot be read (other users, gone meanwhile)
 * are ignored; this process is included. Returns [] on platforms other than Linux.
 */
export async function findOpenWriters(paths: string[], byInode?: FilesByInode): Promise<OpenWriter[]> {
  if (process.platform !== 'linux' || paths.length === 0) return [];
  const wanted = await realPaths(paths);
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const found: OpenWriter[] = [];
  const unmatched: Unmatched[] = [];
  const slice = { left: FDS_PER_SLICE };
  for (const pid of pids) await writersOf(pid, wanted, byInode === undefined ? null : unmatched, found, slice);
  if (byInode !== undefined && unmatched.length > 0) found.push(...(await matchByInode(unmatched, byInode)));
  return found;
}

/** "pid 4242 (python)", and the name it writes under when that is not the run's. */
export function describeWriter(w: OpenWriter): string {
  return `pid ${w.pid} (${w.command})${w.seenAs === undefined ? '' : ` as ${w.seenAs}`}${w.mapped ? ', mapped into its memory' : ''}`;
}

/**
 * A descriptor open for writing, to be matched by inode: its path matched none of the asked paths,
 * or it did (`asked`) and another name of the same file may be among the caller's files.
 */
export interface Unmatched {
  pid: number;
  fd: string;
  command: string;
  target: string;
  /** The caller's path it matched by path (already reported under it); null when it matched none. */
  asked?: string | null;
  /** From its fdinfo: the mount it was opened through, and its inode when the kernel shows it. */
  mntId: number | null;
  ino: number | null;
  /** A shared writable mapping (`fd` is then `maps`): its device as its maps line gives it. */
  mappedOn?: string;
}

/**
 * Adds the writers of `pid` matched by path to `found`; with `unmatched`, also collects its
 * descriptors open for writing that may hold a run file under another name: those matched by path
 * too (a hard link inside the run is the same file under a second run path). Yields to the event
 * loop once `slice.left` descriptors were read since the last time (a process may hold thousands).
 */
async function writersOf(pid: string, wanted: Map<string, string>, unmatched: Unmatched[] | null, found: OpenWriter[], slice: { left: number }): Promise<void> {
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = fs.readdirSync(fdDir);
  } catch {
    return;
  }
  let command: string | null = null;
  for (const fd of fds) {
    if (--slice.left <= 0) {
      slice.left = FDS_PER_SLICE;
      await new Promise((r) => setImmediate(r));
    }
    let target: string;
    try {
      target = fs.readlinkSync(`${fdDir}/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith('/')) continue;
    const asked = match(target, wanted);
    if (asked === null && (unmatched === null || !mayBeRunFile(target))) continue;
    const info = openForWriting(pid, fd);
    if (info === null) continue;
    command ??= commandOf(pid);
    if (asked !== null) found.push({ path: asked, pid: Number(pid), command });
    // Also by inode when matched by path: another name of it in the run (a hard link) is written too.
    if (unmatched !== null) unmatched.push({ pid: Number(pid), fd, command, target, mntId: info.mntId, ino: info.ino, asked });
  }
  // Files written through memory, with no descriptor left open.
  for (const m of sharedWritableMappings(pid)) {
    const asked = match(m.target, wanted);
    if (asked === null && (unmatched === null || !mayBeRunFile(m.target))) continue;
    command ??= commandOf(pid);
    if (asked !== null) found.push({ path: asked, pid: Number(pid), command, mapped: true });
    if (unmatched !== null) unmatched.push({ pid: Number(pid), fd: 'maps', command, target: m.target, mntId: null, ino: m.ino, mappedOn: m.dev, asked });
  }
}

function mayBeRunFile(target: string): boolean {
  return !target.endsWith(DELETED) && !NOT_RUN_FILES.some((p) => target.startsWith(p));
}

/** Holds the start of one fdinfo ("pos:", "flags:", "mnt_id:", "ino:", a line each): one buffer for all. */
const fdinfo = Buffer.alloc(256);

/** The descriptor's fdinfo when it is open for writing; else (or unreadable) null. */
function openForWriting(pid: string, fd: string): ReturnType<typeof parseFdInfo> {
  let n: number;
  try {
    const h = fs.openSync(`/proc/${pid}/fdinfo/${fd}`, 'r');
    try {
      n = fs.readSync(h, fdinfo, 0, fdinfo.length, null);
    } finally {
      fs.closeSync(h);
    }
  } catch {
    return null;
  }
  const info = parseFdInfo(fdinfo.toString('latin1', 0, n));
  const mode = info === null ? -1 : info.flags & O_ACCMODE;
  return mode === O_WRONLY || mode === O_RDWR ? info : null;
}

function commandOf(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * The files of `q` that one of the `unmatched` descriptors holds open: opened through a mount of
 * the run's file system (its fdinfo's `mnt_id`, looked up in the process's own mountinfo), with
 * the inode the scan saw, and the file at its path now that very inode. The inode comes from the
 * fdinfo where the kernel shows it (5.14 and later), else from a stat through the fd's link, made
 * only for a descriptor on the run's file system: a descriptor on a hung network or FUSE mount is
 * never touched (its stat would hold a thread of the pool, and each later look another, until the
 * daemon's file calls all waited). Unknown file system of the run: no match by inode.
 */
export async function matchByInode(unmatched: Unmatched[], q: FilesByInode, io: InodeLookups = realLookups()): Promise<OpenWriter[]> {
  const runDevice = io.runDevice(q.dir);
  if (runDevice === null) return [];
  const onRunFs = unmatched.filter((w) => (w.mappedOn !== undefined ? w.mappedOn === runDevice : w.mntId !== null && io.deviceOf(w.pid, w.mntId) === runDevice));
  // dev null: the inode is the fdinfo's, on the run's file system already.
  const byIno = new Map<number, { dev: number | null; w: Unmatched }[]>();
  const add = (ino: number, dev: number | null, w: Unmatched): void => {
    const list = byIno.get(ino) ?? [];
    list.push({ dev, w });
    byIno.set(ino, list);
  };
  const stats = onRunFs.filter((w) => w.ino === null);
  for (const w of onRunFs) if (w.ino !== null) add(w.ino, null, w);
  for (let i = 0; i < stats.length; i += PARALLEL_STATS) {
    await Promise.all(
      stats.slice(i, i + PARALLEL_STATS).map(async (w) => {
        // stat, not lstat: through the fd's link to the open file itself, whatever its path.
        const st = await io.statFd(w.pid, w.fd).catch(() => null);
        if (st !== null && st.isFile() && st.nlink > 0) add(st.ino, st.dev, w);
      }),
    );
  }
  if (byIno.size === 0) return [];
  const out: OpenWriter[] = [];
  for (const f of q.files) {
    const open = f.type === 'file' ? byIno.get(f.ino) : undefined;
    if (open === undefined) continue;
    const abs = path.join(q.dir, f.path);
    // The very name the descriptor matched by path: reported already, as itself.
    const others = open.filter(({ w }) => w.asked !== abs);
    if (others.length === 0) continue;
    const st = await fsp.lstat(abs).catch(() => null);
    if (st === null || st.ino !== f.ino) continue;
    for (const { dev, w } of others) {
      if (dev === null || dev === st.dev) out.push({ path: abs, pid: w.pid, command: w.command, seenAs: w.target, ...(w.mappedOn !== undefined ? { mapped: true as const } : {}) });
    }
  }
  return out;
}

/** What `matchByInode` reads, apart from the run's own files; other ones in tests. */
export interface InodeLookups {
  /** The device (`major:minor`) of the file system of the run's real folder; null when unknown. */
  runDevice: (dir: string) => string | null;
  /** The device of mount `mntId` as process `pid` sees it; null when unknown. */
  deviceOf: (pid: number, mntId: number) => string | null;
  /** A stat of the open file itself, through the descriptor's link. */
  statFd: (pid: number, fd: string) => Promise<fs.Stats>;
}

/** The lookups of a real scan: /proc and one mountinfo per mount namespace. */
function realLookups(): InodeLookups {
  const devices = new MountDevices();
  return {
    runDevice: deviceOfOwnPath,
    deviceOf: (pid, mntId) => devices.deviceOf(pid, mntId),
    statFd: (pid, fd) => fsp.stat(`/proc/${pid}/fd/${fd}`),
  };
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
