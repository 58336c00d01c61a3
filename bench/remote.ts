/**
 * The remote push benchmark (issue 13): the series' training state (bench/state.ts), generation
 * by generation, pushed to a LOCAL S3 server by ckptd, rclone and restic side by side in one run;
 * per generation, seconds and bytes uploaded.
 *
 * - The server: s3rver in a child node (`tests/helpers/s3-server.ts`, data under the bench
 *   folder). Each tool talks to it through its own byte-counting TCP proxy
 *   (`tests/helpers/fault-proxy.ts`, no fault armed), so all three are counted the same way:
 *   every byte the client sent (request lines, headers, bodies) and every request.
 * - ckptd: per generation a local snapshot of the run (`snapshotNow`, timed apart: the push reads
 *   the store, not the run), then `ckptd push --json` (the CLI in a new node, as a user runs it)
 *   to `s3://BUCKET/ckptd`: blobs the remote lacks, then the manifest.
 * - rclone: `rclone copy RUN bench:BUCKET/rclone`, configured by environment only: every
 *   generation into the SAME prefix (files whose size or time changed go up, the rest are skipped),
 *   the closest rclone comes to "push the new state"; the prefix holds only the newest state.
 * - restic: `restic backup RUN` into `s3:http://PROXY/BUCKET/restic` (its `init` before the
 *   first generation, not counted).
 *
 * The tools run one after another, each after a `sync`, the order rotating each generation.
 * BENCH_REMOTE_REPEAT rounds repeat the whole series with a new bucket, store and state.
 * Settings: BENCH_REMOTE_GB (0.5), BENCH_GENERATIONS (4), BENCH_REMOTE_REPEAT (1).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFaultProxy, type FaultProxy, type SeenRequest } from '../tests/helpers/fault-proxy.js';
import { startS3Server, TEST_ACCESS_KEY, TEST_SECRET_KEY, type S3TestServer } from '../tests/helpers/s3-server.js';
import { CLI, ensureTool, envNumber, note, seconds, stats, syncAll } from './lib.js';
import { bm, formatBytes, heading, out, ratio, secs, table, type Verdict } from './report.js';
import { benchRun, buildState, snapshotNow } from './state.js';

/** What one upload of one generation by one tool cost, as its proxy saw it. */
export interface Upload {
  seconds: number;
  /** CPU seconds (user + system) of the tool's process. */
  cpu: number;
  /** Every byte the tool sent to the server (headers included). */
  bytesUp: number;
  requests: SeenRequest[];
}

/** A tool that uploads the current state: its CPU seconds; throws when the tool fails. */
interface PushTool {
  name: string;
  proxy: FaultProxy;
  push(): Promise<number>;
}

/** One generation of one round. */
interface GenSample {
  label: string;
  /** Bytes of the files that changed since the previous generation (ckptd's snapshot: copied). */
  changed: number;
  snapshotSeconds: number;
  uploads: Map<string, Upload>;
  /** ckptd's own count of what it sent (`sent_bytes` of `push --json`). */
  ckptdSent: number;
}

const TOOLS = ['ckptd', 'rclone', 'restic'] as const;

export async function runRemote(base: string): Promise<Verdict[]> {
  const total = Math.round(envNumber('BENCH_REMOTE_GB', 0.5) * 1e9);
  const GENERATIONS = Math.max(1, Math.round(envNumber('BENCH_GENERATIONS', 4)));
  const ROUNDS = Math.max(1, Math.round(envNumber('BENCH_REMOTE_REPEAT', 1)));
  const missing = new Map<string, string>();
  for (const [tool, pkg] of [['rclone', 'rclone'], ['restic', 'restic']] as const) {
    const found = ensureTool(tool, pkg);
    if ('missing' in found) missing.set(tool, found.missing);
  }
  for (const [tool, why] of missing) note(`${tool} column missing: ${why}`);
  const versions = [...(missing.has('rclone') ? [] : [(await tool('rclone', ['version'])).stdout.split('\n')[0]!]), ...(missing.has('restic') ? [] : [(await tool('restic', ['version'])).stdout.trim()])];

  const server = await startS3Server(base);
  const rounds: GenSample[][] = [];
  let sizes = { frozen: 0, changing: 0 };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const dir = path.join(base, `round-${r + 1}`);
      fs.mkdirSync(dir);
      const round = await oneRound(dir, server, total, GENERATIONS, missing);
      rounds.push(round.samples);
      sizes = round.sizes;
    }
  } finally {
    await server.stop();
  }
  return report(rounds, { total, missing, versions, sizes });
}

/** A new bucket, store, state and restic repository; the whole series once. */
async function oneRound(
  dir: string,
  server: S3TestServer,
  total: number,
  generations: number,
  missing: Map<string, string>,
): Promise<{ samples: GenSample[]; sizes: { frozen: number; changing: number } }> {
  const bucket = await server.newBucket();
  const run = path.join(dir, 'run');
  const state = buildState(run, total);
  const failed = new Map(missing);
  const tools: PushTool[] = [];

  const ckProxy = await startFaultProxy(server.port);
  const { cfg, file } = await benchRun(dir, run, `remote: {url: "s3://${bucket}/ckptd", endpoint: "${ckProxy.endpoint}", force_path_style: true}\n`);
  let lastSent = 0;
  tools.push({
    name: 'ckptd',
    proxy: ckProxy,
    async push() {
      const { stdout, cpu } = await tool(process.execPath, [CLI, '--config', file, 'push', '--json']);
      const printed = JSON.parse(stdout) as { pushed: { sent_bytes: number }[]; failed: { error: string } | null };
      if (printed.failed) throw new Error(printed.failed.error);
      lastSent = printed.pushed.reduce((n, p) => n + p.sent_bytes, 0);
      return cpu;
    },
  });
  if (!failed.has('rclone')) {
    const proxy = await startFaultProxy(server.port);
    const env = rcloneEnv(proxy.endpoint);
    tools.push({ name: 'rclone', proxy, push: async () => (await tool('rclone', ['copy', '-q', run, `bench:${bucket}/rclone`], env)).cpu });
  }
  if (!failed.has('restic')) {
    const proxy = await startFaultProxy(server.port);
    const env = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: `s3:${proxy.endpoint}/${bucket}/restic`, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') };
    try {
      await tool('restic', ['init', '-q'], env);
      tools.push({ name: 'restic', proxy, push: async () => (await tool('restic', ['backup', '-q', '--host', 'bench', run], env)).cpu });
    } catch (err) {
      failed.set('restic', `restic init failed: ${firstLine(err)}`);
    }
  }

  const samples: GenSample[] = [];
  let clock = Date.now();
  try {
    for (let gen = 1; gen <= generations + 1; gen++) {
      const unchanged = gen === generations + 1;
      if (!unchanged) state.newGeneration(gen);
      const label = unchanged ? `${gen} (nothing changed)` : gen === 1 ? '1 (first: all new)' : String(gen);
      note(`${path.basename(dir)}, generation ${label}`);
      syncAll();
      const t0 = performance.now();
      const snap = await snapshotNow(cfg, (clock += 1000));
      const snapshotSeconds = seconds(t0);
      const uploads = new Map<string, Upload>();
      const live = tools.filter((t) => !failed.has(t.name));
      for (const t of live.map((_, i) => live[(i + gen) % live.length]!)) {
        syncAll();
        try {
          uploads.set(t.name, await measure(t.proxy, () => t.push()));
        } catch (err) {
          failed.set(t.name, `failed in generation ${gen}: ${firstLine(err)}`);
          note(`${t.name} ${failed.get(t.name)}`);
        }
      }
      samples.push({ label, changed: snap.copied_bytes, snapshotSeconds, uploads, ckptdSent: lastSent });
    }
  } finally {
    for (const t of tools) await t.proxy.close();
  }
  for (const [name, why] of failed) if (!missing.has(name)) missing.set(name, why);
  return { samples, sizes: { frozen: state.frozenBytes, changing: state.changedBytes } };
}

/** Runs `push` and reads what its proxy saw meanwhile. */
async function measure(proxy: FaultProxy, push: () => Promise<number>): Promise<Upload> {
  const up0 = proxy.bytesUp();
  const n0 = proxy.requests().length;
  const t0 = performance.now();
  const cpu = await push();
  const s = seconds(t0);
  return { seconds: s, cpu, bytesUp: proxy.bytesUp() - up0, requests: proxy.requests().slice(n0) };
}

/** rclone's remote `bench:` from the environment alone (no config file). */
function rcloneEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: TEST_ACCESS_KEY,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: TEST_SECRET_KEY,
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
  };
}

/**
 * Runs a tool to completion with the server's credentials: its stdout and the CPU seconds (user +
 * system) it used, read from the `times` of a shell around it; a failure throws with its stderr.
 * Never synchronously: the proxies it talks through run in this process. AWS_CA_BUNDLE is removed:
 * the server is plain HTTP, and rclone's SDK refuses to start with a CA bundle set on this
 * transport ("LoadCustomCABundleError").
 */
async function tool(cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; cpu: number }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_SESSION_TOKEN;
  const script = '"$@"; s=$?; times >&2; exit $s';
  const { stdout, stderr } = await promisify(execFile)('sh', ['-c', script, 'sh', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, env });
  return { stdout, cpu: childCpuSeconds(stderr) };
}

/**
 * The children's CPU seconds from what the shell's `times` printed last: its own user and system
 * time on one line, then its children's (`0m1.250000s 0m0.310000s`); NaN when it is not there.
 */
export function childCpuSeconds(stderr: string): number {
  const last = stderr.trim().split('\n').pop() ?? '';
  const m = /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(last.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).split('\n').filter((l) => l.trim() !== '')[0] ?? String(err);
}

/** ckptd's requests of one push, by what they carried: blob bodies, manifests, the rest. */
export function classifyCkptd(requests: SeenRequest[]): { blobBytes: number; blobPuts: number; manifests: number; otherWrites: string[] } {
  let blobBytes = 0;
  let blobPuts = 0;
  let manifests = 0;
  const otherWrites: string[] = [];
  for (const r of requests) {
    const key = r.url.split('?')[0]!;
    if (r.method === 'PUT' && key.includes('/blobs/sha256/')) {
      blobBytes += r.bodyBytes;
      blobPuts++;
    } else if (r.method === 'PUT' && /\/runs\/[^/]+\/snapshots\/[^/]+\.json$/.test(key)) manifests++;
    else if (r.method !== 'GET' && r.method !== 'HEAD' && !(r.method === 'POST' && key.includes('/blobs/sha256/'))) otherWrites.push(`${r.method} ${r.url}`);
  }
  return { blobBytes, blobPuts, manifests, otherWrites };
}

/** `HEAD 4, PUT 6`: a tool's requests counted by method. */
export function methodCounts(requests: SeenRequest[]): string {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(r.method, (counts.get(r.method) ?? 0) + 1);
  return [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([m, n]) => `${m} ${n}`).join(', ');
}

function report(rounds: GenSample[][], o: { total: number; missing: Map<string, string>; versions: string[]; sizes: { frozen: number; changing: number } }): Verdict[] {
  const gens = rounds[0]!.map((g) => g.label);
  const present = TOOLS.filter((t) => rounds.every((r) => r.every((g) => g.uploads.has(t))));
  const per = (gi: number): GenSample[] => rounds.map((r) => r[gi]!);
  const times = (gi: number, t: string): number[] => per(gi).map((g) => g.uploads.get(t)?.seconds ?? NaN);
  const bytes = (gi: number, t: string): number => stats(per(gi).map((g) => g.uploads.get(t)?.bytesUp ?? NaN)).median;
  const cell = (gi: number, t: string): string => (present.includes(t as (typeof TOOLS)[number]) ? bm(stats(times(gi, t))) : '-');
  const bcell = (gi: number, t: string): string => (present.includes(t as (typeof TOOLS)[number]) ? formatBytes(bytes(gi, t)) : '-');

  heading(`remote push: ${gens.length - 1} generations + 1 unchanged to a local S3 server (s3rver); ${rounds.length} round(s)`);
  out(`state ${formatBytes(o.total)}: frozen ${formatBytes(o.sizes.frozen)}, changing every generation ${formatBytes(o.sizes.changing)}, trainer_state.json`);
  out(`tools: ckptd push (CLI); ${o.versions.join('; ')}`);
  for (const [t, why] of o.missing) out(`${t} column missing: ${why}`);
  out('seconds: wall time of the command, best / median over rounds; up: bytes the tool sent to the server (requests, headers, bodies), median');
  out('ckptd snap: the local snapshot the push reads (not part of the push time); rclone: copy into one prefix; restic: backup to its repository');
  out();
  const head = ['generation', 'changed', 'ckptd snap', 'ckptd push', 'ckptd up', 'rclone', 'rclone up', 'restic', 'restic up', 'ckptd/rclone s', 'ckptd/restic up'];
  const rows = gens.map((label, gi) => {
    const ck = stats(times(gi, 'ckptd'));
    const rc = present.includes('rclone') ? stats(times(gi, 'rclone')) : null;
    return [
      label,
      formatBytes(stats(per(gi).map((g) => g.changed)).median),
      bm(stats(per(gi).map((g) => g.snapshotSeconds))),
      cell(gi, 'ckptd'),
      bcell(gi, 'ckptd'),
      cell(gi, 'rclone'),
      bcell(gi, 'rclone'),
      cell(gi, 'restic'),
      bcell(gi, 'restic'),
      rc ? ratio(ck.best, rc.best) : '-',
      present.includes('restic') ? `${(bytes(gi, 'ckptd') / bytes(gi, 'restic')).toFixed(3)}x` : '-',
    ];
  });
  out(table(head, rows));

  out();
  out("CPU seconds (user + system) of each tool's process, median over rounds (the server's own CPU not counted: s3rver, one node process, serves all three):");
  const cpu = (gi: number, t: string): string => (present.includes(t as (typeof TOOLS)[number]) ? secs(stats(per(gi).map((g) => g.uploads.get(t)!.cpu)).median) : '-');
  out(table(['generation', ...TOOLS], gens.map((label, gi) => [label, ...TOOLS.map((t) => cpu(gi, t))])));

  out();
  out('requests per generation (round 1): ckptd: blob bodies and manifests; rclone and restic: by method');
  rounds[0]!.forEach((g) => {
    const ck = g.uploads.get('ckptd');
    const c = ck ? classifyCkptd(ck.requests) : null;
    const others = present.filter((t) => t !== 'ckptd').map((t) => `${t}: ${g.uploads.get(t)!.requests.length} (${methodCounts(g.uploads.get(t)!.requests)})`);
    out(
      `  ${g.label.padEnd(20)} ckptd: ${ck ? `${ck.requests.length} (${methodCounts(ck.requests)}); ${c!.blobPuts} blob PUTs ${formatBytes(c!.blobBytes)}, ${c!.manifests} manifest, sent_bytes ${formatBytes(g.ckptdSent)}` : '-'}; ${others.join('; ')}`,
    );
  });
  out();
  out('every sample, seconds, in round order:');
  gens.forEach((label, gi) => out(`  ${label.padEnd(20)} ${present.map((t) => `${t} ${times(gi, t).map(secs).join(' ')}`).join('   ')}`));

  return verdicts(rounds, present);
}

/** The goals of issue 13, judged on every round. */
function verdicts(rounds: GenSample[][], present: readonly string[]): Verdict[] {
  const verdicts: Verdict[] = [];
  const ck = (g: GenSample): Upload => g.uploads.get('ckptd')!;
  const changed = rounds.flatMap((r) => r.slice(1, -1)).map((g) => ({ g, c: classifyCkptd(ck(g).requests) }));
  const wrong = changed.filter(({ g, c }) => !(c.blobBytes === g.changed && c.manifests === 1 && c.otherWrites.length === 0));
  verdicts.push({
    target: 'a later generation uploads only the changed files (issue 13)',
    met: changed.length === 0 ? null : wrong.length === 0,
    detail:
      changed.length === 0
        ? 'only one generation ran'
        : wrong.length === 0
          ? `in all ${changed.length} changed generations of ${rounds.length} round(s): blob bodies = the changed bytes (${[...new Set(changed.map(({ g }) => formatBytes(g.changed)))].join(', ')}), one manifest, no other write; bytes sent in all ${[...new Set(changed.map(({ g }) => formatBytes(ck(g).bytesUp)))].join(', ')}`
          : wrong.map(({ g, c }) => `gen ${g.label}: blob bodies ${formatBytes(c.blobBytes)} for ${formatBytes(g.changed)} changed, ${c.manifests} manifest(s)${c.otherWrites.length ? `, other writes: ${c.otherWrites.join(', ')}` : ''}`).join('; '),
  });
  const still = rounds.map((r) => r[r.length - 1]!).map((g) => ({ g, c: classifyCkptd(ck(g).requests) }));
  verdicts.push({
    target: 'an unchanged generation uploads only a manifest (issue 13)',
    met: still.every(({ c }) => c.blobPuts === 0 && c.manifests === 1 && c.otherWrites.length === 0),
    detail: [...new Set(still.map(({ g, c }) => `${ck(g).requests.length} requests (${methodCounts(ck(g).requests)}), ${c.blobPuts} blob PUTs, ${c.manifests} manifest, ${formatBytes(ck(g).bytesUp)} sent in all`))].join('; '),
  });
  if (present.includes('rclone')) {
    const first = rounds.map((r) => r[0]!);
    const a = first.map((g) => ck(g).seconds);
    const b = first.map((g) => g.uploads.get('rclone')!.seconds);
    const best = Math.min(...a) / Math.min(...b);
    const paired = stats(a.map((x, i) => x / b[i]!)).median;
    verdicts.push({
      target: 'first generation at least as fast as rclone (issue 13)',
      met: best <= 1 && paired <= 1 ? true : best > 1 && paired > 1 ? false : 'edge',
      detail: `ckptd push / rclone copy seconds: best/best ${best.toFixed(2)}x, paired median ${paired.toFixed(2)}x (ckptd ${a.map(secs).join(' ')} s, rclone ${b.map(secs).join(' ')} s; the local snapshot before the push ${first.map((g) => secs(g.snapshotSeconds)).join(' ')} s)`,
    });
  } else verdicts.push({ target: 'first generation at least as fast as rclone (issue 13)', met: null, detail: 'rclone not available' });
  if (present.includes('restic')) {
    const gens = rounds[0]!.slice(1).map((_, i) => i + 1);
    const ratios = gens.map((gi) => ({ label: rounds[0]![gi]!.label.split(' ')[0], rs: rounds.map((r) => ck(r[gi]!).bytesUp / r[gi]!.uploads.get('restic')!.bytesUp) }));
    verdicts.push({
      target: 'later generations: no more bytes uploaded than restic (issue 13)',
      met: ratios.every(({ rs }) => rs.every((x) => x <= 1)),
      detail: `ckptd / restic bytes sent: ${ratios.map(({ label, rs }) => `gen ${label} ${rs.map((x) => `${x.toFixed(3)}x`).join(' ')}`).join('; ')}`,
    });
  } else verdicts.push({ target: 'later generations: no more bytes uploaded than restic (issue 13)', met: null, detail: 'restic not available' });
  return verdicts;
}
