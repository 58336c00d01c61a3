/**
 * Running as a systemd service, with real processes: every shipped unit and every unit
 * `ckptd install-service` renders passes `systemd-analyze verify` (offline: it loads the file into
 * a private manager instance and checks keys, values and that the ExecStart= binary exists; no
 * running systemd is needed, user units only need an XDG_RUNTIME_DIR); the daemon speaks the
 * notify protocol to a fake notify socket; its text lines carry journald priorities when stdout is
 * the journal; and a stop is bounded, a second SIGINT forcing it.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageUnits } from '../../src/service/package-units.js';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { CLI, ROOT, runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { has, startFakeNotifySocket, type FakeNotifySocket, type NotifyMessage } from '../helpers/fake-notify-socket.js';
import { requireTool } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function temp(): string {
  const t = tempDir('ckptd-systemd-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** `systemd-analyze verify` on one unit, alone in a folder (verify also loads the unit's neighbours). */
function verify(unitText: string, name: string, scope: 'system' | 'user'): { code: number | null; output: string } {
  const dir = temp();
  const file = path.join(dir, name);
  fs.writeFileSync(file, unitText);
  const runtime = path.join(dir, 'runtime');
  fs.mkdirSync(runtime, { mode: 0o700 });
  return systemdAnalyze([...(scope === 'user' ? ['--user'] : []), 'verify', '--man=no', file], { XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_LEVEL: 'warning' });
}

/** Runs `systemd-analyze`; throws, naming the package to install, when it is missing. */
function systemdAnalyze(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; output: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error) {
    throw new Error(`systemd-analyze could not be run (${r.error.message}): these checks need it; install it with \`apt-get install systemd\` (Debian; .ci/run does)`);
  }
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Expects `systemd-analyze verify` to accept the unit without a single warning. */
function expectVerified(unitText: string, name: string, scope: 'system' | 'user'): void {
  const r = verify(unitText, name, scope);
  expect(r.output, `systemd-analyze verify ${name}`).toBe('');
  expect(r.code).toBe(0);
}

function exposure(unitText: string, name: string, threshold: number): { code: number | null; output: string } {
  const dir = temp();
  fs.writeFileSync(path.join(dir, name), unitText);
  return systemdAnalyze(['security', '--offline=yes', `--threshold=${threshold}`, '--no-pager', path.join(dir, name)]);
}

const directive = (text: string, key: string): string[] => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

describe('unit files', () => {
  const shipped = packageUnits();

  it('systemd/ holds exactly the units the renderer writes for a package install', () => {
    for (const u of shipped) {
      const file = path.join(ROOT, 'systemd', u.file);
      expect(fs.readFileSync(file, 'utf8'), `${file} is stale: regenerate it with node -e "import('./dist/src/service/package-units.js').then((m) => m.writePackageUnits('systemd'))"`).toBe(u.text);
    }
    const onDisk = (fs.readdirSync(path.join(ROOT, 'systemd'), { recursive: true }) as string[]).filter((f) => f.endsWith('.service')).sort();
    expect(onDisk).toEqual(shipped.map((u) => u.file).sort());
  });

  it('every unit in systemd/ passes systemd-analyze verify, and the system ones are sandboxed (exposure <= 2.0)', () => {
    for (const u of shipped) {
      const text = fs.readFileSync(path.join(ROOT, 'systemd', u.file), 'utf8');
      const user = u.file.startsWith('user/');
      expectVerified(text, path.basename(u.file), user ? 'user' : 'system');
      if (!user) {
        const r = exposure(text, path.basename(u.file), 20);
        expect(r.code, r.output).toBe(0);
      }
    }
    // The checks can fail: a misspelt key and a looser sandbox are both caught.
    expect(verify(shipped[0]!.text.replace('Type=notify', 'Typ=notify'), 'ckptd.service', 'system').output).toMatch(/Unknown key/);
    expect(exposure(shipped[0]!.text.replace(/^(ProtectSystem|PrivateNetwork|CapabilityBoundingSet|SystemCallFilter)=.*$/gm, ''), 'ckptd.service', 20).code).not.toBe(0);
  });
});

describe('ckptd install-service', () => {
  function setup(): { dir: string; cfg: string } {
    const dir = temp();
    fs.mkdirSync(path.join(dir, 'run'));
    fs.mkdirSync(path.join(dir, 'stores', 'b'), { recursive: true });
    const cfg = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      `log: {file: ./logs/ckptd.log}
runs:
  - {name: a, path: ./run}
  - {name: b, path: "./run b", store: ./stores/b, save: {to: ./exports}}
`,
    );
    return { dir, cfg };
  }

  it('renders a system unit with this node, this ckptd, the config and its writable paths; it passes verify', async () => {
    const { dir, cfg } = setup();
    const unitDir = path.join(dir, 'units');
    const r = await runCli(['install-service', '--config', cfg, '--unit-dir', unitDir, '--user-name', 'trainer']);
    expect(r.code, r.stderr).toBe(0);
    const text = fs.readFileSync(path.join(unitDir, 'ckptd.service'), 'utf8');
    expectVerified(text, 'ckptd.service', 'system');
    expect(directive(text, 'ExecStart')).toEqual([`${process.execPath} ${NODE_FLAGS.join(' ')} ${CLI} daemon --config ${cfg}`]);
    expect(directive(text, 'User')).toEqual(['trainer']);
    const rw = (p: string): string => (p.includes(' ') ? `"${p}"` : p);
    expect(directive(text, 'ReadWritePaths')).toEqual([
      [path.join(dir, '.ckptd', 'a'), path.join(dir, 'exports'), path.join(dir, 'logs'), path.join(dir, 'run'), `-${path.join(dir, 'run b')}`, path.join(dir, 'stores', 'b')].map(rw).join(' '),
    ]);
    // Everything lives under /tmp here: a private /tmp would hide it.
    expect(directive(text, 'PrivateTmp')).toEqual(['no']);
    expect(r.stdout).toContain(`wrote ${path.join(unitDir, 'ckptd.service')}`);
    expect(r.stdout).toContain('systemctl daemon-reload && systemctl enable --now ckptd');
    expect(r.stdout).toContain(`install -d -o trainer ${path.join(dir, 'exports')}`);

    // As root it keeps the capabilities to reach every user's files; that unit verifies too.
    const asRoot = await runCli(['install-service', '--config', cfg, '--user-name', 'root', '--dry-run']);
    expect(asRoot.code, asRoot.stderr).toBe(0);
    expectVerified(asRoot.stdout, 'ckptd.service', 'system');
    expect(directive(asRoot.stdout, 'User')).toEqual(['root']);
  });

  it('lets the daemon reach the network only when a run has a remote, so pushes work under the sandbox', async () => {
    const { dir, cfg } = setup();
    const offline = await runCli(['install-service', '--config', cfg, '--user-name', 'trainer', '--dry-run']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(directive(offline.stdout, 'PrivateNetwork')).toEqual(['yes']);
    expect(directive(offline.stdout, 'RestrictAddressFamilies')).toEqual(['AF_UNIX']);

    fs.appendFileSync(cfg, 'remote: {url: "s3://bucket/ckpt", region: us-east-1}\n');
    const pushing = await runCli(['install-service', '--config', cfg, '--user-name', 'trainer', '--dry-run']);
    expect(pushing.code, pushing.stderr).toBe(0);
    expectVerified(pushing.stdout, 'ckptd.service', 'system');
    expect(directive(pushing.stdout, 'PrivateNetwork')).toEqual([]);
    expect(directive(pushing.stdout, 'RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6']);
    // Still well sandboxed otherwise.
    const r = exposure(pushing.stdout, 'ckptd.service', 30);
    expect(r.code, r.output).toBe(0);
  });

  it('renders a user unit that passes verify --user', async () => {
    const { dir, cfg } = setup();
    const unitDir = path.join(dir, 'user-units');
    const r = await runCli(['install-service', '--user', '--config', cfg, '--unit-dir', unitDir]);
    expect(r.code, r.stderr).toBe(0);
    const text = fs.readFileSync(path.join(unitDir, 'ckptd.service'), 'utf8');
    expectVerified(text, 'ckptd.service', 'user');
    expect(directive(text, 'ExecStart')).toEqual([`${process.execPath} ${NODE_FLAGS.join(' ')} ${CLI} daemon --config ${cfg}`]);
    expect(directive(text, 'User')).toEqual([]);
    expect(directive(text, 'WantedBy')).toEqual(['default.target']);
    expect(r.stdout).toContain('systemctl --user daemon-reload && systemctl --user enable --now ckptd');
    expect(r.stdout).toContain('loginctl enable-linger');
  });

  it('--dry-run prints the unit and writes nothing; a different unit is only replaced with --force', async () => {
    const { dir, cfg } = setup();
    const unitDir = path.join(dir, 'units');
    const unit = path.join(unitDir, 'ckptd.service');
    const dry = await runCli(['install-service', '--config', cfg, '--unit-dir', unitDir, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(fs.existsSync(unitDir)).toBe(false);
    expect(dry.stdout).toMatch(/^# ckptd\.service: written by/);
    expect(dry.stderr).toContain('systemctl daemon-reload && systemctl enable --now ckptd');

    fs.mkdirSync(unitDir);
    fs.writeFileSync(unit, '[Service]\nExecStart=/bin/true\n');
    const refused = await runCli(['install-service', '--config', cfg, '--unit-dir', unitDir]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/exists and differs.*--force/);
    expect(fs.readFileSync(unit, 'utf8')).toBe('[Service]\nExecStart=/bin/true\n');

    const forced = await runCli(['install-service', '--config', cfg, '--unit-dir', unitDir, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(unit, 'utf8')).toBe(dry.stdout);
    // The same unit again is not a conflict.
    const again = await runCli(['install-service', '--config', cfg, '--unit-dir', unitDir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('is already this unit');
  });
});

/** A run config with `names` runs, each with a file in it. */
function runsConfig(dir: string, names: string[], format: 'json' | 'text', level = 'info'): string {
  const cfg = path.join(dir, 'ckptd.yaml');
  for (const n of names) {
    fs.mkdirSync(path.join(dir, n), { recursive: true });
    fs.writeFileSync(path.join(dir, n, 'weights.bin'), n);
  }
  fs.writeFileSync(
    cfg,
    `log: {level: ${level}, format: ${format}}
runs:
${names.map((n) => `  - {name: ${n}, path: ./${n}, settle: 200ms, progress: none, backup: {every: always}}`).join('\n')}
`,
  );
  return cfg;
}

/**
 * Runs the CLI behind a python exec that sets JOURNAL_STREAM to the dev:ino of its own stdout, the
 * stream the test reads (Node's stdio "pipe" is a unix socketpair on Linux, as journald's stream
 * is; fstat gives its sockfs dev:ino). exec keeps fd 1, so the daemon sees a match, as under systemd.
 */
const JOURNAL_WRAP = [
  'python3',
  '-c',
  'import os, sys; s = os.fstat(1); os.environ["JOURNAL_STREAM"] = "%d:%d" % (s.st_dev, s.st_ino); os.execv(sys.argv[1], sys.argv[1:])',
];

async function notifySocket(dir: string, opts: { holdBarrierAfter?: string } = {}): Promise<FakeNotifySocket> {
  requireTool('systemd-notify', 'systemd');
  const s = await startFakeNotifySocket(path.join(dir, 'notify.sock'), opts);
  cleanups.push(() => s.close());
  return s;
}

function daemon(args: string[], env: NodeJS.ProcessEnv, wrap: string[] = []): DaemonHandle {
  const d = startDaemon(args, env, wrap);
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

/**
 * The daemon's first READY=1: sent once its runs started, which takes locks and fsyncs. Waited for
 * up to 60 s, since a CI machine's disk shared with other tests has stalled such a start for over
 * 15 s; a daemon that never gets there still fails the test, with its own output to say why.
 */
async function readyOf(sock: FakeNotifySocket, d: DaemonHandle): Promise<NotifyMessage> {
  try {
    return await sock.waitFor((m) => has(m, 'READY=1'), 'READY=1', 0, 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message.slice(0, 500)}\nthe daemon's output:\n${d.output().slice(-3000)}`);
  }
}

function exitWithin(d: DaemonHandle, ms: number): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon did not exit within ${ms} ms; output:\n${d.output().slice(-3000)}`)), ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve({ code: d.proc.exitCode, ms: Date.now() - t0 });
    };
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) done();
    else d.proc.once('exit', done);
  });
}

describe('the notify protocol (Type=notify)', () => {
  it('READY=1 once every run is watched, RELOADING=1 then READY=1 on SIGHUP, WATCHDOG=1, STATUS=, STOPPING=1 and exit 0 on SIGTERM', async () => {
    const dir = temp();
    const sock = await notifySocket(dir);
    const cfg = runsConfig(dir, ['a', 'b'], 'json');
    // Under a journal stdout the JSON format stays JSON (startDaemon parses every line).
    const d = daemon(['daemon', '--config', cfg], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '200000' }, JOURNAL_WRAP);

    const ready = await readyOf(sock, d);
    expect(ready.assignments).toContainEqual(expect.stringMatching(/^STATUS=watching 2 runs; /));
    await d.waitFor((l) => l.event === 'daemon-start', 10_000, 'daemon start');
    const readyAt = sock.messages.indexOf(ready);
    await sock.waitFor((m) => has(m, 'STATUS=watching 2 runs; last backup just now'), 'a status naming the first backup');
    // WATCHDOG_USEC=200000: a ping every 100 ms.
    const t0 = Date.now();
    await sock.waitFor(() => sock.messages.slice(readyAt).filter((m) => has(m, 'WATCHDOG=1')).length >= 4, 'four watchdog pings');
    expect(Date.now() - t0).toBeLessThan(3000);

    const beforeHup = sock.messages.length;
    d.proc.kill('SIGHUP');
    const reloading = await sock.waitFor((m) => has(m, 'RELOADING=1'), 'RELOADING=1', beforeHup);
    expect(reloading.assignments).toContainEqual(expect.stringMatching(/^MONOTONIC_USEC=\d+$/));
    const readyAgain = await sock.waitFor((m) => has(m, 'READY=1'), 'READY=1 after the reload', sock.messages.indexOf(reloading) + 1);
    expect(sock.messages.indexOf(readyAgain)).toBeGreaterThan(sock.messages.indexOf(reloading));
    await d.waitFor((l) => l.event === 'config-reloaded', 10_000, 'the SIGHUP reload');

    const beforeTerm = sock.messages.length;
    d.proc.kill('SIGTERM');
    await sock.waitFor((m) => has(m, 'STOPPING=1'), 'STOPPING=1', beforeTerm);
    const { code } = await exitWithin(d, 10_000);
    expect(code).toBe(0);
    // systemd-notify is run with its barrier: every message is followed by BARRIER=1 carrying one fd.
    const states = sock.messages.filter((m) => !has(m, 'BARRIER=1'));
    expect(sock.messages.filter((m) => has(m, 'BARRIER=1')).length).toBe(states.length);
    expect(sock.messages.filter((m) => has(m, 'BARRIER=1')).every((m) => m.fds === 1)).toBe(true);
    // Order: READY before RELOADING before READY before STOPPING; nothing after STOPPING but watchdog or status.
    const order = states.flatMap((m) => m.assignments.filter((a) => /^(READY|RELOADING|STOPPING)=1$/.test(a)));
    expect(order).toEqual(['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
  }, 120_000);

  it('spawns nothing when NOTIFY_SOCKET is unset (a stand-in systemd-notify on PATH proves it would be seen)', async () => {
    const dir = temp();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const marker = path.join(dir, 'spawned.txt');
    fs.writeFileSync(path.join(bin, 'systemd-notify'), `#!/bin/sh\necho "$@" >> '${marker}'\n`, { mode: 0o755 });
    const cfg = runsConfig(dir, ['a'], 'json');
    const PATH = `${bin}:${process.env.PATH ?? ''}`;

    const idle = daemon(['daemon', '--config', cfg], { PATH, WATCHDOG_USEC: '200000', NOTIFY_SOCKET: '' });
    await idle.waitFor((l) => l.event === 'snapshot', 15_000, 'a backup');
    idle.proc.kill('SIGHUP');
    await idle.waitFor((l) => l.event === 'config-reloaded', 10_000, 'the SIGHUP reload');
    // Proves an absence: for 500 ms (5 watchdog periods of 100 ms) nothing may be spawned, so
    // this wait is a plain sleep.
    await new Promise((r) => setTimeout(r, 500));
    idle.proc.kill('SIGTERM');
    expect((await exitWithin(idle, 10_000)).code).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);

    const notifying = daemon(['daemon', '--config', cfg], { PATH, WATCHDOG_USEC: '200000', NOTIFY_SOCKET: path.join(dir, 'nobody-listens.sock') });
    await notifying.waitFor((l) => l.event === 'daemon-start', 10_000, 'daemon start');
    const spawned = (): string => (fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '');
    await waitUntil(() => /^READY=1/m.test(spawned()) && /^WATCHDOG=1/m.test(spawned()), 'systemd-notify to be run with READY=1 and WATCHDOG=1');
    notifying.proc.kill('SIGTERM');
    expect((await exitWithin(notifying, 10_000)).code).toBe(0);
    const sent = fs.readFileSync(marker, 'utf8');
    expect(sent).toMatch(/^READY=1 STATUS=watching 1 run/m);
    expect(sent).toMatch(/^WATCHDOG=1/m);
    expect(sent).toMatch(/^STOPPING=1/m);
  });

  it('a stop waiting on a manager that does not answer is bounded (exit 0); a second SIGINT ends it at once (exit 130)', async () => {
    // Two daemons side by side, each with a manager that stops confirming messages once shutdown began.
    const start = async (): Promise<{ d: DaemonHandle; sock: FakeNotifySocket }> => {
      const dir = temp();
      const sock = await notifySocket(dir, { holdBarrierAfter: 'STOPPING=1' });
      const d = daemon(['daemon', '--config', runsConfig(dir, ['a'], 'json')], { NOTIFY_SOCKET: sock.path });
      await readyOf(sock, d);
      await d.waitFor((l) => l.event === 'daemon-start', 10_000, 'daemon start');
      return { d, sock };
    };
    const [bounded, forced] = await Promise.all([start(), start()]);
    const boundedExit = exitWithin(bounded.d, 8000);
    bounded.d.proc.kill('SIGTERM');
    forced.d.proc.kill('SIGTERM');
    await Promise.all([bounded.sock, forced.sock].map((s) => s.waitFor((m) => has(m, 'STOPPING=1'), 'STOPPING=1')));
    // A SIGINT within a second of the first signal is the same Ctrl-C seen twice: ignored.
    forced.d.proc.kill('SIGINT');
    // Proves an absence (no exit on that SIGINT) and lets the one-second window pass, so the next
    // SIGINT is a second press: a plain sleep.
    await new Promise((r) => setTimeout(r, 1200));
    expect(forced.d.proc.exitCode).toBeNull();
    forced.d.proc.kill('SIGINT');
    expect((await exitWithin(forced.d, 1500)).code).toBe(130);

    const b = await boundedExit;
    expect(b.code).toBe(0);
    // It did wait for the manager (systemd-notify's barrier), and only up to its bound.
    expect(b.ms).toBeGreaterThan(2000);
  }, 120_000);
});

describe('journald', () => {
  it('text lines carry sd-daemon priorities and no timestamp when stdout is the journal, and only then', async () => {
    const dir = temp();
    const cfg = runsConfig(dir, ['a'], 'text', 'debug');
    // A leftover of an interrupted snapshot: swept at start with a warning.
    fs.mkdirSync(path.join(dir, '.ckptd', 'a', '.staging', 'leftover'), { recursive: true });
    const journal = spawnText(['daemon', '--config', cfg], {}, JOURNAL_WRAP);
    await journal.waitFor(/^<6>info {2}a: backup \S+ taken/m, 'the backup line');
    fs.writeFileSync(cfg, 'runs: [{name: a, path: ./a, backup: {evry: always}}]\n');
    journal.proc.kill('SIGHUP');
    await journal.waitFor(/^<3>error config not applied/m, 'the invalid config error');
    journal.proc.kill('SIGTERM');
    expect((await journal.exit).code).toBe(0);
    const lines = journal.out().trimEnd().split('\n');
    expect(lines.every((l) => /^<[3467]>(error|warn |info |debug) /.test(l)), journal.out()).toBe(true);
    expect(journal.out()).toMatch(/^<4>warn {2}a: removed an unfinished snapshot/m);
    expect(journal.out()).toMatch(/^<7>debug /m);
    expect(journal.out()).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);

    // JOURNAL_STREAM inherited by a process whose stdout is something else: plain timestamped lines.
    const elsewhere = spawnText(['daemon', '--config', runsConfig(temp(), ['a'], 'text')], { JOURNAL_STREAM: '1:2' });
    await elsewhere.waitFor(/ckptd daemon started/, 'the start line');
    elsewhere.proc.kill('SIGTERM');
    expect((await elsewhere.exit).code).toBe(0);
    expect(elsewhere.out()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info {2}ckptd daemon started/m);
    expect(elsewhere.out()).not.toMatch(/^</m);
  });
});

/** Starts the CLI (behind `wrap`) and collects stdout as text. */
function spawnText(args: string[], env: NodeJS.ProcessEnv, wrap: string[] = []) {
  const argv = [...wrap, process.execPath, CLI, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => void proc.kill('SIGKILL'));
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exit = new Promise<{ code: number | null }>((resolve) => proc.on('exit', (code) => resolve({ code })));
  return {
    proc,
    exit,
    out: () => out,
    async waitFor(re: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
      const t0 = Date.now();
      while (!re.test(out)) {
        if (Date.now() - t0 > timeoutMs || proc.exitCode !== null) throw new Error(`no ${what}; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
