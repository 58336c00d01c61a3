/**
 * Shared pieces of `npm run bench`: settings from the environment, timing with every sample kept,
 * the disk helpers (sync, du, removal of read-only trees), external tools, and /proc readings.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI (`dist/src/cli/main.js`), next to this file's `dist/bench/`. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

/** A number from the environment, or `fallback`; a malformed value is an error, not a silent default. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
  return n;
}

/** Progress for the person waiting (stderr); the report itself goes to stdout. */
export function note(text: string): void {
  process.stderr.write(`  .. ${text}\n`);
}

/** Runs a command to completion; its output is returned, a failure throws with its stderr. */
export function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Flushes every dirty page first, so one measurement does not pay for the writeback of the one
 * before. With BENCH_WARM_GB set, then has a helper touch that much memory and exit: on a VM that
 * hands freed memory back to its host (see `pageReporting`), the next sample's page cache then
 * mostly lands on memory already faulted in (steadier, slower to run; off by default).
 */
export function syncAll(): void {
  execFileSync('sync');
  const warm = envNumber('BENCH_WARM_GB', 0);
  if (warm > 0) {
    const chunks = Math.ceil((warm * 1e9) / (256 << 20));
    execFileSync(process.execPath, ['-e', `const a = []; for (let i = 0; i < ${chunks}; i++) a.push(Buffer.alloc(256 << 20, 1));`]);
  }
}

/** syncfs(2) of the file system holding `p`: what a tool's copy needs to be durable like ckptd's. */
export function syncFs(p: string): void {
  execFileSync('sync', ['-f', p]);
}

export function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

export interface Stats {
  best: number;
  median: number;
  samples: number[];
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  // The lower median for an even count: with 2 samples it is the better one, never an average.
  return { best: s[0]!, median: s[Math.floor((s.length - 1) / 2)]!, samples };
}

/**
 * Writes `bytes` pseudo-random bytes, fsynced: an AES-CTR keystream under a fresh random key, so
 * no two chunks, files or generations share content (nothing can be deduplicated or compressed by
 * luck, not even by restic's content-defined chunking), at several GB/s.
 */
export function writeRandom(file: string, bytes: number): void {
  const stream = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(Math.min(8 << 20, Math.max(1, bytes)));
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, zeros.length);
      fs.writeSync(fd, stream.update(zeros.subarray(0, n)));
      left -= n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes on disk as `du -sb` counts them: apparent sizes, each hard-linked inode once across `paths`. */
export function duBytes(...paths: string[]): number {
  const out = sh('du', ['-sbc', ...paths]);
  const total = out.trim().split('\n').pop()!;
  return Number(total.split(/\s+/)[0]);
}

/** Removes a tree that may hold read-only snapshot files (as a non-root user would have to). */
export function removeTree(p: string): void {
  if (!fs.existsSync(p)) return;
  spawnSync('chmod', ['-R', 'u+w', p]);
  fs.rmSync(p, { recursive: true, force: true });
}

/** The path of `tool` on $PATH, or null. */
export function which(tool: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * `tool` on $PATH, installing the Debian package `pkg` with apt-get when it is missing and we are
 * root; null (with the reason) when it cannot be had. A benchmark, not a test: a missing tool is
 * skipped with a message.
 */
export function ensureTool(tool: string, pkg: string): { path: string } | { missing: string } {
  const found = which(tool);
  if (found) return { path: found };
  if (process.env.BENCH_NO_INSTALL === '1') return { missing: `${tool} is not installed (BENCH_NO_INSTALL=1)` };
  if (process.getuid?.() !== 0 || !which('apt-get')) return { missing: `${tool} is not installed; install it (e.g. apt-get install ${pkg}) to include it` };
  note(`${tool} is missing: apt-get install ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', pkg], { env, stdio: 'ignore' }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    install();
  }
  const after = which(tool);
  return after ? { path: after } : { missing: `${tool} is not installed and apt-get install ${pkg} failed` };
}

/** CPU time (seconds, user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

let ticks: number | null = null;
function clockTicks(): number {
  ticks ??= Number(sh('getconf', ['CLK_TCK']).trim()) || 100;
  return ticks;
}

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc/<pid>/status. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A short description of the machine for the report header. */
export function machine(dir: string): string[] {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? '?').trim();
  const memKb = Number(fs.readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  let disk = '?';
  try {
    const [source, fstype, size] = sh('df', ['-B1', '--output=source,fstype,size', dir]).trim().split('\n')[1]!.trim().split(/\s+/);
    const dev = path.basename(source ?? '');
    const rota = fs.existsSync(`/sys/block/${dev}/queue/rotational`) ? fs.readFileSync(`/sys/block/${dev}/queue/rotational`, 'utf8').trim() : '?';
    disk = `${source} ${fstype}, ${(Number(size) / 1e9).toFixed(0)} GB, rotational=${rota}`;
  } catch {
    /* df missing */
  }
  return [
    `cpu: ${cpu}, ${(fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm) ?? []).length} cores; ram ${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    `disk: ${disk} (bench folder ${dir})`,
    `kernel ${sh('uname', ['-r']).trim()}, node ${process.version}`,
  ];
}

const REPORTING = '/sys/module/page_reporting/parameters';

/**
 * Free page reporting (a VM handing freed guest memory back to its host): its settings, or null
 * when the kernel does not report. Memory handed back must be faulted in from the host when it is
 * used again, which makes any copy into new page cache slow at random.
 */
export function pageReporting(): string | null {
  if (!fs.existsSync(REPORTING)) return null;
  const read = (k: string): string => {
    try {
      return fs.readFileSync(`${REPORTING}/${k}`, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  const order = Number(read('page_reporting_order'));
  return `free page reporting on: free blocks of ${Number.isFinite(order) ? formatBlock(4096 * 2 ** order) : '?'} go back to the host${read('min_free_ms') !== '?' ? ` after ${read('min_free_ms')} ms free` : ''}`;
}

function formatBlock(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

/** Memory (MiB) handed back to the host so far, or null without free page reporting. */
export function reportedMiB(): number | null {
  try {
    return Number(fs.readFileSync(`${REPORTING}/reported_kib`, 'utf8').trim()) / 1024;
  } catch {
    return null;
  }
}

/** The 1-minute load average: other work on a shared machine skews every number. */
export function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
}

/** sha256 throughput of this CPU on one core (GB/s), the floor of ckptd's copy of one large file. */
export async function sha256Speed(): Promise<number> {
  const { createHash } = await import('node:crypto');
  const buf = randomBytes(64 << 20);
  createHash('sha256').update(buf.subarray(0, 1 << 20)).digest();
  const t0 = performance.now();
  const h = createHash('sha256');
  for (let i = 0; i < 8; i++) h.update(buf);
  h.digest();
  return (8 * buf.length) / 1e9 / seconds(t0);
}
