/**
 * The systemd unit for `ckptd daemon`, as text: a system service (dedicated user, sandboxed with
 * `ProtectSystem=strict` and the runs' folders, stores and save folders as the only writable
 * paths) or a per-user service. Pure: the caller gathers the paths. The files in `systemd/` are
 * the same units written for a package install (`ckptd` on PATH, no config known yet).
 */

import type { Priority } from '../policy/process-priority.js';

export interface UnitSpec {
  scope: 'system' | 'user';
  /** The `ExecStart=` command line, already in unit syntax (`execLine` renders one from an argv). */
  exec: string;
  /** Default `ckptd: backups and saves of model training runs`. */
  description?: string;
  /** System units: a folder under /var/lib that systemd creates, owned by the user and writable (`StateDirectory=`). */
  stateDirectory?: string;
  /** System units: the account the daemon runs as. */
  user: string;
  /** System units: the only paths the daemon may write; `optional` ones may not exist yet. */
  writable: { path: string; optional: boolean }[];
  /** Folders that must be mounted before the daemon starts (the runs' and stores' folders). */
  mountsFor: string[];
  /** False when a run or store lives under /tmp or /var/tmp, which a private /tmp would hide. */
  privateTmp: boolean;
  /** True when a run has a `remote:`: the daemon then needs IP sockets for its object store. */
  network: boolean;
  /** The config's `priority` (`processPriority`): `low` gives the unit's cgroup a small CPU and IO weight. */
  priority: Priority;
  /** Comment lines for the top of the file (without `# `). */
  header: string[];
}

/** Seconds a stop may take: a run's snapshot in progress gets 20 s to finish, then notifications and logs flush. */
export const STOP_TIMEOUT_SEC = 45;
/** The watchdog: the daemon pings every half of it; a loop stuck this long gets the unit restarted. */
export const WATCHDOG_SEC = 60;

/** Renders the unit file text for `spec` (ends with a newline). */
export function renderUnit(spec: UnitSpec): string {
  const system = spec.scope === 'system';
  const lines: string[] = spec.header.map((h) => (h === '' ? '#' : `# ${h}`));
  if (lines.length > 0) lines.push('');
  lines.push('[Unit]', `Description=${spec.description ?? 'ckptd: backups and saves of model training runs'}`, 'Documentation=https://www.npmjs.com/package/ckptd');
  // A user manager has no view of the system's mount targets.
  if (system) lines.push('After=local-fs.target remote-fs.target');
  if (spec.mountsFor.length > 0) lines.push(`RequiresMountsFor=${spec.mountsFor.map((p) => quoteWord(p)).join(' ')}`);
  lines.push(
    '',
    '[Service]',
    '# Started = every run is watched. ckptd reports READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 and a',
    '# STATUS= line through a systemd-notify child process (Node cannot send datagrams), hence NotifyAccess=all.',
    'Type=notify',
    'NotifyAccess=all',
    `ExecStart=${spec.exec}`,
    '# A reload re-reads the config and applies it without a restart (saving the file does it too).',
    'ExecReload=/bin/kill -HUP $MAINPID',
    `WatchdogSec=${WATCHDOG_SEC}s`,
    'Restart=on-failure',
    'RestartSec=5s',
    '# Exit 2 is a bad config: restarting cannot help until the file is fixed.',
    'RestartPreventExitStatus=2',
    'TimeoutStartSec=2min',
    '# A stop lets a snapshot in progress finish (up to 20 s), else abandons it cleanly.',
    `TimeoutStopSec=${STOP_TIMEOUT_SEC}s`,
    'KillSignal=SIGTERM',
    'NoNewPrivileges=yes',
  );
  if (spec.priority === 'low') {
    lines.push(
      '# priority: low. The daemon sets its own nice value (19) and IO class (best-effort 7), so that a',
      '# live edit to `priority: normal` can undo them (no Nice= here: raising it again needs',
      '# CAP_SYS_NICE, which the unit does not give). The IO class is set from the first moment (the',
      '# start-up scan): any process may raise its own best-effort level again. These weights put the',
      '# whole unit behind other busy units and slices when CPU or disk is short:',
      'IOSchedulingClass=best-effort',
      'IOSchedulingPriority=7',
      'CPUWeight=20',
      'IOWeight=20',
    );
  }
  if (system) {
    lines.push('', `User=${escapeSpecifiers(spec.user)}`);
    if (spec.user === 'root') {
      lines.push(
        "# As root: read and restore any user's files, and see which processes hold them open for writing.",
        'CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_SYS_PTRACE',
      );
    } else {
      lines.push('CapabilityBoundingSet=');
    }
    lines.push("# Everything is read-only to ckptd except the runs' folders (restores), stores and save folders.", 'ProtectSystem=strict');
    if (spec.stateDirectory) lines.push(`StateDirectory=${spec.stateDirectory}`);
    if (spec.writable.length > 0) lines.push(`ReadWritePaths=${spec.writable.map((w) => quoteWord(w.optional ? `-${w.path}` : w.path)).join(' ')}`);
    lines.push('ProtectHome=read-only');
    if (!spec.privateTmp) lines.push('# A run, store or save folder is under /tmp or /var/tmp: a private /tmp would hide it.');
    lines.push(
      `PrivateTmp=${spec.privateTmp ? 'yes' : 'no'}`,
      'PrivateDevices=yes',
      ...(spec.network
        ? ['# A run has a remote: ckptd talks to its object store over IP, to systemd over a unix socket.', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']
        : [
            '# No network: no run has a remote, and ckptd talks to systemd over a unix socket, nothing else.',
            '# After adding a remote, render the unit again (`ckptd install-service --force`) or add a drop-in',
            '# (`systemctl edit`): PrivateNetwork=no and RestrictAddressFamilies=AF_INET AF_INET6.',
            'PrivateNetwork=yes',
            'RestrictAddressFamilies=AF_UNIX',
          ]),
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelLogs=yes',
      'ProtectControlGroups=yes',
      'ProtectClock=yes',
      'ProtectHostname=yes',
      'RestrictNamespaces=yes',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'SystemCallArchitectures=native',
      'SystemCallFilter=@system-service',
      'SystemCallErrorNumber=EPERM',
      '# Snapshots stay readable by the people who list and restore them.',
      'UMask=0022',
      '# Left out on purpose: MemoryDenyWriteExecute= (V8 compiles code at run time); ProtectProc= and',
      "# PrivateUsers= (the check for files held open for writing reads the trainer's /proc/PID/fd).",
    );
  }
  lines.push('', '[Install]', `WantedBy=${system ? 'multi-user.target' : 'default.target'}`, '');
  return lines.join('\n');
}

/** `%` starts a specifier in unit files; a literal one is written `%%`. */
function escapeSpecifiers(s: string): string {
  return s.replace(/%/g, '%%');
}

/**
 * One word of a space-separated path list (`ReadWritePaths=`, `RequiresMountsFor=`): quoted when
 * it holds white space. Characters no unit file can carry safely are refused.
 */
export function quoteWord(word: string): string {
  checkWritable(word);
  const w = escapeSpecifiers(word);
  return /\s/.test(w) ? `"${w}"` : w;
}

/** An `ExecStart=` command line for `argv` (an absolute program path, then its arguments), each quoted as needed. */
export function execLine(argv: string[]): string {
  return argv.map(quoteExecArg).join(' ');
}

/** One argument of `ExecStart=`: `%` and `$` escaped (specifiers, variables), quoted when needed. */
export function quoteExecArg(arg: string): string {
  checkWritable(arg);
  const a = escapeSpecifiers(arg).replace(/\$/g, '$$$$');
  return /[\s;']/.test(a) || a === '' ? `"${a}"` : a;
}

function checkWritable(s: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\"]/.test(s)) {
    throw new Error(`cannot write ${JSON.stringify(s)} into a unit file (control characters, backslashes and double quotes are not supported); rename or move it`);
  }
}
