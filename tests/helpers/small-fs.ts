/**
 * A small file system for disk-full tests, made without needing root when possible:
 *
 * 1. `unshare -rm` (a user + mount namespace the current user owns) with a tmpfs of the asked size
 *    mounted at `dir` inside it. Only processes in that namespace see the mount: ckptd commands run
 *    behind `wrap` (`nsenter` into it), and this process reaches the same folder through
 *    `/proc/<pid>/root<dir>` (`view`).
 * 2. As root without user namespaces: a plain `mount -t tmpfs` at `dir` (`view` is `dir`).
 * 3. Neither (an unprivileged container): ckptd runs with a preload (`env`) that gives `dir` a
 *    quota of that size at the Node API level: `copyFile` into `dir` fails with a real-looking
 *    ENOSPC when the files under `dir` (in whole 4 KiB blocks, as a real file system allocates)
 *    would exceed it, and `statfs` reports the free space left.
 *    Data copies are where a full disk bites in practice; small metadata writes are not limited.
 *
 * `CKPTD_TEST_SMALL_FS=namespace|mount|inject` forces one way (to exercise the fallbacks).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface SmallFs {
  /** The mount point, as ckptd (run behind `wrap`, with `env`) sees it. */
  dir: string;
  /** The same folder as this process reaches it. */
  view: string;
  /** Command prefix that runs a command where the small file system is visible (may be empty). */
  wrap: string[];
  /** Environment ckptd needs (the preload of the injected quota; empty otherwise). */
  env: NodeJS.ProcessEnv;
  how: 'namespace' | 'mount' | 'inject';
  close(): Promise<void>;
}

/**
 * Makes `dir` (an existing empty folder) a file system of `bytes` bytes; see the file comment. With
 * `inodes`, it holds at most that many files and folders (a tmpfs's `nr_inodes`): the injected
 * quota cannot limit them, so then only a real mount will do (it throws when there is none).
 */
export async function makeSmallFs(dir: string, bytes: number, inodes?: number): Promise<SmallFs> {
  const forced = process.env.CKPTD_TEST_SMALL_FS;
  const errors: string[] = [];
  const options = `size=${bytes},mode=755${inodes === undefined ? '' : `,nr_inodes=${inodes}`}`;
  if (forced === undefined || forced === 'namespace') {
    const r = await inNamespace(dir, options).catch((err: Error) => (errors.push(`unshare: ${err.message}`), null));
    if (r) return r;
  }
  if ((forced === undefined || forced === 'mount') && process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
      return {
        dir,
        view: dir,
        wrap: [],
        env: {},
        how: 'mount',
        close: async () => void spawnSync('umount', ['-l', dir]),
      };
    } catch (err) {
      errors.push(`mount: ${(err as Error).message}`);
    }
  }
  if ((forced === undefined || forced === 'inject') && inodes === undefined) return injected(dir, bytes);
  throw new Error(`cannot make a small file system at ${dir} (${forced}): ${errors.join('; ')}`);
}

function inNamespace(dir: string, options: string): Promise<SmallFs | null> {
  return new Promise((resolve, reject) => {
    if (spawnSync('nsenter', ['--version']).status !== 0) return reject(new Error('nsenter is not available'));
    const holder = spawn('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o ${options} tmpfs "$0" && echo mounted && exec sleep 100000`, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    holder.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    holder.on('error', reject);
    holder.on('exit', (code) => reject(new Error(`exited ${code}: ${err.trim()}`)));
    holder.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (!c.includes('mounted')) return;
      const pid = holder.pid!;
      const view = `/proc/${pid}/root${dir}`;
      const exited = new Promise<void>((r) => holder.on('exit', () => r()));
      resolve({
        dir,
        view,
        wrap: ['nsenter', `--target=${pid}`, '--user', '--mount', '--preserve-credentials', '--'],
        env: {},
        how: 'namespace',
        async close() {
          holder.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

const PRELOAD = `
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
const root = path.resolve(process.env.CKPTD_TEST_FS_ROOT);
const quota = Number(process.env.CKPTD_TEST_FS_BYTES);
const inside = (p) => { const r = path.resolve(String(p)); return r === root || r.startsWith(root + path.sep); };
// Like a real file system, every file takes whole 4 KiB blocks.
const blocks = (size) => Math.ceil(size / 4096) * 4096;
const used = () => {
  const seen = new Set();
  let total = 0;
  const visit = (d) => {
    let names = [];
    try { names = fs.readdirSync(d); } catch { return; }
    for (const n of names) {
      let st;
      try { st = fs.lstatSync(path.join(d, n)); } catch { continue; }
      if (st.isDirectory()) visit(path.join(d, n));
      else if (!seen.has(st.ino)) { seen.add(st.ino); total += blocks(st.size); }
    }
  };
  visit(root);
  return total;
};
const copyFile = fsp.copyFile;
fsp.copyFile = async (src, dst, mode) => {
  if (inside(dst)) {
    const size = blocks((await fsp.stat(src)).size);
    if (used() + size > quota) {
      throw Object.assign(new Error("ENOSPC: no space left on device, copyfile -> '" + dst + "'"), { code: 'ENOSPC', errno: -28, syscall: 'copyfile', path: String(dst) });
    }
  }
  return copyFile(src, dst, mode);
};
const statfs = fsp.statfs;
fsp.statfs = async (p, o) => {
  const s = await statfs(p, o);
  if (!inside(p)) return s;
  const free = Math.max(0, quota - used());
  return { ...s, blocks: Math.floor(quota / s.bsize), bfree: Math.floor(free / s.bsize), bavail: Math.floor(free / s.bsize) };
};
`;

function injected(dir: string, bytes: number): SmallFs {
  const preload = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-smallfs-')), 'preload.mjs');
  fs.writeFileSync(preload, PRELOAD);
  const nodeOptions = [process.env.NODE_OPTIONS, `--import=${pathToFileURL(preload).href}`].filter(Boolean).join(' ');
  return {
    dir,
    view: dir,
    wrap: [],
    env: { NODE_OPTIONS: nodeOptions, CKPTD_TEST_FS_ROOT: dir, CKPTD_TEST_FS_BYTES: String(bytes) },
    how: 'inject',
    close: async () => fs.rmSync(path.dirname(preload), { recursive: true, force: true }),
  };
}
