/**
 * Making many new files durable at once: syncfs(2) of the file system that holds them, which writes
 * every dirty page, inode and folder of that file system and flushes the disk's write cache once,
 * where an fsync per file costs one cache flush each. 100,000 small files on the 2-core VM of
 * docs/BENCHMARKS.md: 13-25 s with an fsync each (16 in flight; more threads did not help: the
 * flushes queue at the disk), 47 us per fsync even of a file already written back, against 0.2-0.9 s
 * for one syncfs after writing them all.
 *
 * Node has no binding for syncfs, so it runs `sync -f DIR` (coreutils 8.24+, BusyBox), whose exit
 * status is syncfs's: the system's own `sync` (`SYNC_PATHS`), never one found through PATH, which
 * under `npm start` begins with the project's `node_modules/.bin`. A `sync` that only exits 0
 * would have every bulk copy believed durable. Without one there, each copy is fsynced. Used only where syncfs reports write errors: Linux 5.8 and later (before,
 * syncfs returned 0 even when a page could not be written). It reports an error of any file of the
 * file system that no syncfs caller has been told of yet, ours included, to the first caller only.
 * So this process runs its syncfs of one file system one at a time and counts those that failed,
 * and a batch (`SyncBatch`) fails when any did since it began, its own syncfs clean or not: the
 * error may have been one of its copies. One another process's syncfs was told of first is not
 * seen again (the price of one flush instead of one per file).
 *
 * Only on local disk file systems whose syncfs is known to make the data durable (ext2/3/4, XFS,
 * Btrfs, F2FS; tmpfs, which keeps nothing anyway): on a network or FUSE file system it may not
 * reach the server's disk the way an fsync does.
 *
 * `canSyncFileSystem` answers once per file system and process whether this works there (platform,
 * kernel, file system type, a first `sync -f` that succeeds); a caller that hears no keeps fsyncing
 * each file.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { withPath } from './errors.js';

/** Where `sync` is looked for, in order: the system's folders (NixOS's last), never PATH. */
export const SYNC_PATHS = ['/usr/bin/sync', '/bin/sync', '/run/current-system/sw/bin/sync'];

/** The `sync` run: looked up once (undefined until then); null when there is none. */
let syncCommand: string | null | undefined;

function syncCommandPath(): string | null {
  syncCommand ??= SYNC_PATHS.find((p) => isExecutable(p)) ?? null;
  return syncCommand;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Test-only: run `file` as `sync` (a stand-in that fails on cue); undefined looks `SYNC_PATHS` up again. */
export function useSyncCommandForTests(file: string | undefined): void {
  syncCommand = file;
}

/** The first Linux release whose syncfs reports write-back errors (errseq on the super block). */
const SYNCFS_REPORTS_ERRORS = [5, 8] as const;

/** statfs(2) `f_type` of the file systems syncfs is used on (linux/magic.h). */
const LOCAL_DISK_FS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // XFS
  0x9123683e, // Btrfs
  0xf2f52010, // F2FS
  0x01021994, // tmpfs
]);

/** The answer of `canSyncFileSystem` per device (`st_dev` of the folder asked about). */
const usable = new Map<number, Promise<boolean>>();

/** Per device: the end of this process's chain of syncfs calls there, and how many of them failed. */
interface DeviceSyncs {
  tail: Promise<void>;
  failures: number;
}
const devices = new Map<number, DeviceSyncs>();

function deviceSyncs(dev: number): DeviceSyncs {
  let d = devices.get(dev);
  if (d === undefined) {
    d = { tail: Promise.resolve(), failures: 0 };
    devices.set(dev, d);
  }
  return d;
}

/** `sync -f dir` once every syncfs this process started on device `dev` before it is done; a failure is counted. */
function syncOnDevice(dev: number, dir: string): Promise<void> {
  const d = deviceSyncs(dev);
  const run = d.tail.then(() => runSync(dir));
  // Counted before the next one on this device starts.
  d.tail = run.then(
    () => undefined,
    () => {
      d.failures++;
    },
  );
  return run;
}

/**
 * Whether a `SyncBatch` can be relied on for `dir` (an existing folder): Linux 5.8+, a local disk
 * file system (see the file comment), and a first `sync -f` on it succeeded. Probed once per file
 * system; never rejects.
 */
export async function canSyncFileSystem(dir: string): Promise<boolean> {
  if (process.platform !== 'linux' || !kernelAtLeast(os.release(), SYNCFS_REPORTS_ERRORS) || syncCommandPath() === null) return false;
  try {
    const [fsStat, st] = await Promise.all([fsp.statfs(dir), fsp.stat(dir)]);
    if (!LOCAL_DISK_FS.has(fsStat.type)) return false;
    let answer = usable.get(st.dev);
    if (answer === undefined) {
      answer = syncOnDevice(st.dev, dir).then(
        () => true,
        () => false,
      );
      usable.set(st.dev, answer);
    }
    return await answer;
  } catch {
    return false;
  }
}

/**
 * Files written under `dir` without an fsync, made durable together by one syncfs of its file
 * system (`sync`). Begun (constructed) before the first of them is written; only after
 * `canSyncFileSystem(dir)` said yes. Throws when `dir` cannot be stat'ed.
 */
export class SyncBatch {
  private readonly dev: number;
  /** Failed syncfs calls of this process on the device when the batch began. */
  private readonly failedBefore: number;

  constructor(private readonly dir: string) {
    this.dev = fs.statSync(dir).dev;
    this.failedBefore = deviceSyncs(this.dev).failures;
  }

  /**
   * syncfs(2) of the file system holding `dir`: resolves once everything written to it is on the
   * disk. Rejects when it reports an error (a full disk as `NoSpaceError`, others with `dir` and
   * the message of `sync`), or when another syncfs of this process on that file system did since
   * the batch began (that error may have been one of the batch's files).
   */
  async sync(): Promise<void> {
    await syncOnDevice(this.dev, this.dir);
    const others = deviceSyncs(this.dev).failures - this.failedBefore;
    if (others > 0) {
      throw new Error(`making durable ${this.dir}: another syncfs of its file system by this process reported a write error meanwhile, which may have been one of these files`);
    }
  }
}

/** Whether a `uname -r` release string is at least `want` (major, minor). */
export function kernelAtLeast(release: string, want: readonly [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > want[0] || (major === want[0] && minor >= want[1]);
}

function runSync(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const command = syncCommandPath();
    if (command === null) return reject(withPath(new Error(`no sync command in ${SYNC_PATHS.join(', ')}`), 'making durable', dir));
    execFile(command, ['-f', '--', dir], { timeout: 0, windowsHide: true }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      const said = stderr.trim();
      const failure = new Error(said === '' ? err.message : said) as NodeJS.ErrnoException;
      // `sync` names the errno in words; a full disk must read as one, whatever the wording around it.
      if (/No space left on device|Disk quota exceeded/.test(said)) failure.code = said.includes('quota') ? 'EDQUOT' : 'ENOSPC';
      reject(withPath(failure, 'making durable', dir));
    });
  });
}
