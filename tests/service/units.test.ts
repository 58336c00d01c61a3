/**
 * The pure parts of running as a service: unit text (quoting, sandbox choices), the writable paths
 * taken from a config, the watchdog interval systemd asks for, and the status line.
 */
import { describe, expect, it } from 'vitest';
import { describeServiceStatus, ServiceStatusTracker } from '../../src/cli/service-status.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { watchdogIntervalMs } from '../../src/daemon/sd-notify.js';
import { execLine, quoteWord, renderUnit, type UnitSpec } from '../../src/service/render-unit.js';
import { needsSharedTmp, writablePaths } from '../../src/service/service-paths.js';

function config(yaml: string): Config {
  const r = parseConfigText(yaml, '/srv/train/ckptd.yaml', '/home/alice');
  if (!('config' in r)) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const base: UnitSpec = {
  scope: 'system',
  exec: execLine(['/usr/bin/node', '/opt/ckptd/dist/src/cli/main.js', 'daemon', '--config', '/etc/ckptd/config.yaml']),
  user: 'ckptd',
  writable: [{ path: '/srv/train/run', optional: false }],
  mountsFor: ['/srv/train/run'],
  privateTmp: true,
  network: false,
  priority: 'low',
  header: [],
};

const directive = (text: string, key: string): string[] => text.split('\n').filter((l) => l.startsWith(`${key}=`));

describe('unit text', () => {
  it('escapes specifiers and variables and quotes what holds spaces', () => {
    expect(execLine(['/opt/my node/node', '/srv/100%/main.js', 'a$b'])).toBe('"/opt/my node/node" /srv/100%%/main.js a$$b');
    expect(quoteWord('/srv/run b')).toBe('"/srv/run b"');
    expect(quoteWord('-/srv/50%')).toBe('-/srv/50%%');
    expect(() => quoteWord('/srv/a"b')).toThrow(/cannot write/);
    expect(() => quoteWord('/srv/a\nb')).toThrow(/cannot write/);
  });

  it('a system unit is sandboxed to its writable paths; a user unit is not', () => {
    const sys = renderUnit({ ...base, writable: [{ path: '/srv/train/run', optional: true }, { path: '/srv/store x', optional: false }] });
    expect(directive(sys, 'ReadWritePaths')).toEqual(['ReadWritePaths=-/srv/train/run "/srv/store x"']);
    expect(directive(sys, 'ProtectSystem')).toEqual(['ProtectSystem=strict']);
    expect(directive(sys, 'User')).toEqual(['User=ckptd']);
    expect(directive(sys, 'Type')).toEqual(['Type=notify']);
    expect(directive(sys, 'NotifyAccess')).toEqual(['NotifyAccess=all']);
    expect(directive(sys, 'ExecReload')).toEqual(['ExecReload=/bin/kill -HUP $MAINPID']);
    expect(directive(sys, 'PrivateTmp')).toEqual(['PrivateTmp=yes']);
    expect(directive(renderUnit({ ...base, privateTmp: false }), 'PrivateTmp')).toEqual(['PrivateTmp=no']);
    expect(sys).not.toMatch(/^MemoryDenyWriteExecute=/m);
    expect(directive(sys, 'CapabilityBoundingSet')).toEqual(['CapabilityBoundingSet=']);
    expect(directive(renderUnit({ ...base, user: 'root' }), 'CapabilityBoundingSet')).toEqual(['CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_SYS_PTRACE']);

    // priority: low weighs the unit down; normal leaves the weights to systemd.
    expect([...directive(sys, 'CPUWeight'), ...directive(sys, 'IOWeight')]).toEqual(['CPUWeight=20', 'IOWeight=20']);
    expect(directive(renderUnit({ ...base, priority: 'normal' }), 'CPUWeight')).toEqual([]);
    expect(directive(sys, 'Nice')).toEqual([]);
    // The IO class from the first moment (the start-up scan), which the daemon may raise again.
    expect([...directive(sys, 'IOSchedulingClass'), ...directive(sys, 'IOSchedulingPriority')]).toEqual(['IOSchedulingClass=best-effort', 'IOSchedulingPriority=7']);
    expect(directive(renderUnit({ ...base, priority: 'normal' }), 'IOSchedulingClass')).toEqual([]);

    const user = renderUnit({ ...base, scope: 'user' });
    for (const key of ['User', 'ProtectSystem', 'ReadWritePaths', 'PrivateTmp']) expect(directive(user, key)).toEqual([]);
    expect(directive(user, 'WantedBy')).toEqual(['WantedBy=default.target']);
    expect(directive(user, 'WatchdogSec')).toEqual(['WatchdogSec=60s']);
  });
});

describe('writable paths of a config', () => {
  it('lists each run folder, store and save folder and the log folder once, outer paths covering inner ones', () => {
    const c = config(`log: {file: /var/log/ckptd/ckptd.log}
runs:
  - {name: a, path: ./a}
  - {name: b, path: /data/b, store: /data/stores/b, save: {to: /data/stores/b/exports}}
  - {name: c, path: ./c, store: /data/stores/c}
`);
    const w = writablePaths(c);
    expect(w.map((x) => x.path)).toEqual(['/data/b', '/data/stores/b', '/data/stores/c', '/srv/train/.ckptd/a', '/srv/train/a', '/srv/train/c', '/var/log/ckptd']);
    expect(w.find((x) => x.path === '/srv/train/a')!.mayBeMissing).toBe(true);
    expect(w.find((x) => x.path === '/data/stores/b')!.mayBeMissing).toBe(false);
  });

  it("lists the metrics file's folder: under ProtectSystem=strict the daemon could not write the .prom file otherwise", () => {
    const c = config(`metrics: {file: /var/lib/node_exporter/textfile_collector/ckptd.prom}
runs:
  - {name: a, path: ./a}
`);
    const w = writablePaths(c).find((x) => x.path === '/var/lib/node_exporter/textfile_collector');
    expect(w).toEqual({ path: '/var/lib/node_exporter/textfile_collector', why: "the metrics file's folder", mayBeMissing: false });
  });

  it('a private /tmp is refused only when something lives under /tmp or /var/tmp', () => {
    expect(needsSharedTmp(['/srv/a', '/tmpfoo/b'])).toBe(false);
    expect(needsSharedTmp(['/srv/a', '/tmp/x/run'])).toBe(true);
    expect(needsSharedTmp(['/var/tmp'])).toBe(true);
  });
});

describe('watchdog and status', () => {
  it('pings at half of WATCHDOG_USEC, only for the process WATCHDOG_PID names', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '60000000' }, 42)).toBe(30_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '200000', WATCHDOG_PID: '42' }, 42)).toBe(100);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '200000', WATCHDOG_PID: '41' }, 42)).toBeNull();
    expect(watchdogIntervalMs({}, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 42)).toBeNull();
  });

  it('says how many runs are watched and how long ago the last backup and save were', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(describeServiceStatus({ runs: 2, lastBackupAt: now - 3 * 60_000, lastSaveAt: null, lastError: null }, now)).toBe('watching 2 runs; last backup 3 minutes ago');
    expect(describeServiceStatus({ runs: 1, lastBackupAt: null, lastSaveAt: now - 7200_000, lastError: { at: now - 60_000, message: 'a: snapshot failed' } }, now)).toBe(
      'watching 1 run; no backup yet; last save 2 hours ago; error 1 minute ago: a: snapshot failed',
    );
  });

  it('a config reload clears the status error only when that error was an invalid config, whatever its text', () => {
    let now = Date.parse('2026-11-23T12:00:00Z');
    const tracker = new ServiceStatusTracker(() => now);
    tracker.note('error', 'config not applied: line 3: unknown key', { event: 'config-invalid' });
    now += 60_000;
    expect(tracker.note('info', 'config reloaded', { event: 'config-reloaded' })).toBe(true);
    expect(tracker.text(1)).toBe('watching 1 run; no backup yet');
    // A snapshot failure whose message quotes a path named "config not applied" is not cleared by a reload.
    tracker.note('error', 'snapshot failed: /data/config not applied/x: EACCES', { event: 'snapshot-failed', run: 'a' });
    expect(tracker.note('info', 'config reloaded', { event: 'config-reloaded' })).toBe(false);
    expect(tracker.text(1)).toBe('watching 1 run; no backup yet; error just now: a: snapshot failed: /data/config not applied/x: EACCES');
  });
});
