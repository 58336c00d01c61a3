/**
 * `ckptd install-service`: renders the systemd unit for this install (this node, this ckptd, this
 * config, the config's writable paths), writes it where systemd looks (or prints it with
 * `--dry-run`), and says exactly what to run next. It never replaces a different unit without
 * `--force`, and it changes nothing else on the machine: creating the user, the stores and
 * enabling the unit are printed as commands for a person to run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { processPriority } from '../policy/process-priority.js';
import { execLine, renderUnit } from '../service/render-unit.js';
import { writeFileAtomicSync } from '../store/durable.js';
import { needsSharedTmp, writablePaths } from '../service/service-paths.js';
import { SafetyError, UsageError } from '../util/errors.js';
import { NODE_FLAGS } from './node-flags.js';

export interface InstallServiceOptions {
  scope: 'system' | 'user';
  config: Config;
  /** The config file's text, to spot `~/` paths that mean another home under a service user. */
  configText: string;
  /** The unit's name without `.service` (default `ckptd`). */
  unitName: string;
  /** Where to write the unit; null: /etc/systemd/system or ~/.config/systemd/user. */
  unitDir: string | null;
  /** System units: the account the daemon runs as. */
  userName: string;
  dryRun: boolean;
  force: boolean;
  /** Absolute paths of the node binary and of ckptd's `main.js`. */
  nodePath: string;
  cliPath: string;
  env: NodeJS.ProcessEnv;
}

export interface InstallServiceResult {
  unitPath: string;
  text: string;
  /** What happened to the file: written fresh, replaced (with --force), already identical, or not touched. */
  outcome: 'created' | 'replaced' | 'unchanged' | 'dry-run';
  /** Shell commands to run next, in order (comments start with `#`). */
  nextSteps: string[];
  /** Things that will not work as the person probably expects, each one sentence or two. */
  warnings: string[];
}

const UNIT_NAME = /^[A-Za-z0-9_.-]+$/;
const USER_NAME = /^[a-z_][a-z0-9_-]*\$?$/i;

/** Where systemd reads units from without `systemctl link` (systemd.unit(5), unit load paths). */
function standardUnitDirs(scope: 'system' | 'user', env: NodeJS.ProcessEnv): string[] {
  if (scope === 'system') return ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
  return [userUnitDir(env), '/etc/systemd/user', '/usr/lib/systemd/user', '/usr/local/lib/systemd/user'];
}

function userUnitDir(env: NodeJS.ProcessEnv): string {
  const config = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(config, 'systemd', 'user');
}

/** The passwd entry of `name` (NSS-aware through getent, /etc/passwd without it), or null. */
export function lookupUser(name: string): { uid: number; home: string } | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  let line: string | undefined;
  if (r.error) {
    line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
  } else if (r.status === 0) {
    line = r.stdout.split('\n')[0];
  }
  const f = line?.split(':');
  return f && f.length >= 6 ? { uid: Number(f[2]), home: f[5]! } : null;
}

/** Renders, checks and (unless a dry run) writes the unit. Throws `UsageError` or `SafetyError` (a different unit exists). */
export function installService(o: InstallServiceOptions): InstallServiceResult {
  if (!UNIT_NAME.test(o.unitName)) throw new UsageError(`--name ${JSON.stringify(o.unitName)}: use letters, digits, _ . - only`);
  if (o.scope === 'system' && !USER_NAME.test(o.userName)) throw new UsageError(`--user-name ${JSON.stringify(o.userName)} is not a valid user name`);
  const configPath = o.config.file;
  if (!configPath) throw new UsageError('install-service needs a config file (--config PATH)');
  const system = o.scope === 'system';
  const unitDir = path.resolve(o.unitDir ?? (system ? '/etc/systemd/system' : userUnitDir(o.env)));
  const unitFile = `${o.unitName}.service`;
  const unitPath = path.join(unitDir, unitFile);
  const warnings: string[] = [];
  const before: string[] = [];

  const writable = system ? writablePaths(o.config) : [];
  // With node's start-up flags, as `bin/ckptd` runs it (the unit names node itself, for its PATH may have none).
  const exec = execLine([o.nodePath, ...NODE_FLAGS, o.cliPath, 'daemon', '--config', configPath]);
  const rerun = ['ckptd install-service', ...(system ? [] : ['--user']), '--config', configPath, ...(o.unitName !== 'ckptd' ? ['--name', o.unitName] : []), ...(system && o.userName !== 'ckptd' ? ['--user-name', o.userName] : []), ...(o.unitDir ? ['--unit-dir', unitDir] : [])].join(' ');
  const header = [
    `${unitFile}: written by \`ckptd install-service\` for ${configPath}.`,
    ...(system
      ? [
          'The daemon may write only the paths in ReadWritePaths= (the runs\' folders, stores and save folders,',
          'and the log and metrics files\' folders); the rest of the system is read-only to it. After adding or moving a run,',
          `render it again: ${rerun} --force`,
          ...writable.map((w) => `  ${w.path}: ${w.why}`),
        ]
      : [`Started with your session, or at boot after \`loginctl enable-linger\`. Render it again with: ${rerun} --force`]),
    `Reload the config: systemctl ${system ? '' : '--user '}reload ${o.unitName} (or just save the file).`,
  ];
  const text = renderUnit({
    scope: o.scope,
    exec,
    user: o.userName,
    writable: writable.map((w) => ({ path: w.path, optional: w.mayBeMissing && !fs.existsSync(w.path) })),
    mountsFor: writable.map((w) => w.path),
    privateTmp: !needsSharedTmp([...writable.map((w) => w.path), configPath, o.nodePath, o.cliPath]),
    network: o.config.runs.some((r) => r.remote !== null),
    priority: processPriority(o.config.runs),
    header,
  });

  if (system) {
    const account = lookupUser(o.userName);
    if (!account) before.push(`useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${o.userName}`);
    for (const w of writable) {
      if (fs.existsSync(w.path)) continue;
      if (w.mayBeMissing) {
        warnings.push(`${w.path} does not exist yet (${w.why}): the daemon can read it once the trainer creates it, but restores into it need \`systemctl restart ${o.unitName}\` after it exists (ReadWritePaths= applies to folders that exist at start).`);
      } else {
        before.push(`install -d -o ${o.userName} ${shellQuote(w.path)}   # ${w.why}`);
      }
    }
    if (o.userName !== 'root') warnings.push(...ownershipWarnings(o, account?.uid ?? null));
    if (/(^|[\s:'"[,{])~\//m.test(o.configText)) {
      warnings.push(`${configPath} uses ~/ paths: under the service they mean the home of ${o.userName} (${account?.home ?? 'none yet'}), not yours; write absolute paths.`);
    }
    if (needsSharedTmp(writable.map((w) => w.path))) {
      warnings.push('a run, store or save folder lies under /tmp or /var/tmp: PrivateTmp= is off so the daemon sees it; /tmp is usually cleared at boot, so keep stores elsewhere.');
    }
    for (const p of [o.nodePath, o.cliPath, configPath]) {
      const closed = closedToOthers(p);
      const fix = p === configPath ? 'move the config somewhere it can read, such as /etc/ckptd/' : 'install node and ckptd somewhere world-readable such as /usr/local';
      if (closed && o.userName !== 'root') warnings.push(`${p} is not readable by other users (${closed} is closed to them): ${o.userName} cannot use it; ${fix}, or open the folder.`);
    }
  }

  const systemctl = system ? 'systemctl' : 'systemctl --user';
  const standard = standardUnitDirs(o.scope, o.env).some((d) => path.resolve(d) === unitDir);
  const next = [
    ...before,
    ...(standard ? [] : [`${systemctl} link ${shellQuote(unitPath)}   # ${unitDir} is not a folder systemd reads units from`]),
    `${systemctl} daemon-reload && ${systemctl} enable --now ${o.unitName}`,
    ...(system ? [] : [`loginctl enable-linger ${shellQuote(o.env.USER || os.userInfo().username)}   # keep it running while you are logged out, and start it at boot`]),
    `${systemctl} status ${o.unitName}   # Status: watching N runs; last backup ...`,
    `journalctl ${system ? '' : '--user '}-u ${o.unitName} -f`,
  ];

  if (o.dryRun) return { unitPath, text, outcome: 'dry-run', nextSteps: next, warnings };
  let existing: string | null = null;
  try {
    existing = fs.readFileSync(unitPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing === text) return { unitPath, text, outcome: 'unchanged', nextSteps: next, warnings };
  if (existing !== null && !o.force) {
    throw new SafetyError(`${unitPath} exists and differs from the unit for this install; compare with \`ckptd install-service --dry-run\`, then replace it with --force`);
  }
  fs.mkdirSync(unitDir, { recursive: true });
  writeFileAtomicSync(unitPath, text, { mode: 0o644, keepUmask: true });
  return { unitPath, text, outcome: existing === null ? 'created' : 'replaced', nextSteps: next, warnings };
}

/** Run folders owned by another user: what a dedicated service account cannot do for them. */
function ownershipWarnings(o: InstallServiceOptions, uid: number | null): string[] {
  const owners = new Map<number, string[]>();
  for (const run of o.config.runs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(run.path);
    } catch {
      continue;
    }
    if (st.uid === uid) continue;
    owners.set(st.uid, [...(owners.get(st.uid) ?? []), run.path]);
  }
  return [...owners].map(([owner, paths]) => {
    const name = userName(owner);
    return (
      `${paths.join(', ')} belong${paths.length === 1 ? 's' : ''} to ${name}, not ${o.userName}: ${o.userName} needs read access to ${paths.length === 1 ? 'it' : 'them'} and write access to the stores; ` +
      `it cannot see which of ${name}'s processes hold files open for writing (that needs the same user), restored files will belong to ${o.userName}, ` +
      `and ckptd commands run as ${name} cannot write the store's requests/ folder. Running the service as the trainer's user avoids all of this: --user-name ${name}.`
    );
  });
}

function userName(uid: number): string {
  const r = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split(':')[0] ?? String(uid)) : `uid ${uid}`;
}

/** The first of `p` and its parent folders that other users cannot traverse or read, or null. */
function closedToOthers(p: string): string | null {
  try {
    if ((fs.statSync(p).mode & 0o004) === 0) return p;
    for (let d = path.dirname(p); ; d = path.dirname(d)) {
      if ((fs.statSync(d).mode & 0o001) === 0) return d;
      if (d === path.dirname(d)) return null;
    }
  } catch {
    return null;
  }
}

/** `p` as one shell word. */
export function shellQuote(p: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}
