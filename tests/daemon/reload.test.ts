/**
 * A config reload applies every edit, once, whatever went before: a run moved to another store is
 * restarted once (not in a loop), a reload that fails half-way neither takes the daemon down nor
 * keeps the next edits from applying, a run that could not start is retried at the next SIGHUP even
 * when the file is unchanged, a running run's edit to a place it cannot use is not applied (whole)
 * until fixed, and a stop during a reload leaves no run started behind it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** Fails the next `planStore` calls (a reload that lowers keep previews retention with it). */
const failPlans = { left: 0 };
vi.mock('../../src/ops/retention.js', async (original) => {
  const real = await original<typeof import('../../src/ops/retention.js')>();
  return {
    ...real,
    planStore: async (...args: Parameters<typeof real.planStore>) => {
      if (failPlans.left > 0) {
        failPlans.left--;
        throw Object.assign(new Error('EIO: i/o error, scandir'), { code: 'EIO' });
      }
      return real.planStore(...args);
    },
  };
});

import { loadConfigFile } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { acquireStoreLock } from '../../src/store/lock.js';
import type { LogFields, Logger, RootLogger } from '../../src/util/logger.js';

type Line = { level: string; message: string } & LogFields;

function capture(lines: Line[]): RootLogger {
  const make = (fields: LogFields): Logger => {
    const at = (level: string) => (message: string, f?: LogFields) => void lines.push({ level, message, ...fields, ...f });
    return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (f) => make({ ...fields, ...f }) };
  };
  return { ...make({}), configure: () => undefined, close: async () => undefined };
}

let dirs: string[] = [];
let daemons: Daemon[] = [];
afterEach(async () => {
  failPlans.left = 0;
  for (const d of daemons) await d.stop();
  daemons = [];
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A folder with run folders a and b and a config file; `runs` is the YAML of the runs list. */
function setUp(): { dir: string; write: (runs: string) => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-reload-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  const cfg = path.join(dir, 'ckptd.yaml');
  return {
    dir,
    write: (runs) => {
      fs.writeFileSync(cfg, `log: {level: debug}\nruns:\n${runs}`);
      return cfg;
    },
  };
}

const run = (name: string, store: string, keep = 3): string => `  - {name: ${name}, path: ./${name}, store: ./${store}, settle: 200ms, progress: none, backup: {every: never, keep: ${keep}}}\n`;

async function start(cfg: string, lines: Line[]): Promise<Daemon> {
  const d = await Daemon.start({ config: loadConfigFile(cfg), logger: capture(lines), watchConfigFile: false });
  daemons.push(d);
  return d;
}

const events = (lines: Line[], event: string): Line[] => lines.filter((l) => l.event === event);

describe('reloading the config', () => {
  it('restarts a run moved to another store once, and applies the next edit', async () => {
    const { write } = setUp();
    const lines: Line[] = [];
    const d = await start(write(run('a', 's1')), lines);
    write(run('a', 's2'));
    // The old loop never ended: bounded here so that it fails instead of hanging.
    await Promise.race([d.reload('edit'), sleep(10_000)]);
    expect(events(lines, 'run-moved')).toHaveLength(1);
    write(run('a', 's2', 5));
    await Promise.race([d.reload('edit'), sleep(10_000)]);
    expect(events(lines, 'reload').map((l) => l.message)).toContainEqual(expect.stringMatching(/keep 3 -> 5|keep.*5/));
  });

  it('survives a reload that fails half-way, and applies the next one', async () => {
    const { write } = setUp();
    const lines: Line[] = [];
    const d = await start(write(run('a', 's1', 5)), lines);
    failPlans.left = 1;
    write(run('a', 's1', 4));
    await expect(d.reload('edit 1')).resolves.toBeUndefined();
    expect(events(lines, 'config-reload-failed')).toHaveLength(1);
    write(run('a', 's1', 3));
    await expect(d.reload('edit 2')).resolves.toBeUndefined();
    expect(events(lines, 'config-reloaded').map((l) => l.message)).toEqual(['config reloaded (edit 1)', 'config reloaded (edit 2)']);
    expect(events(lines, 'reload').at(-1)?.message).toMatch(/4 -> 3|keep.*3/);
  });

  it('retries, at a SIGHUP with the file unchanged, a run that could not start', async () => {
    const { dir, write } = setUp();
    const lines: Line[] = [];
    const d = await start(write(run('a', 's1')), lines);
    fs.mkdirSync(path.join(dir, 's2'), { mode: 0o700 });
    const held = await acquireStoreLock(path.join(dir, 's2'), { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'snapshot' });
    write(run('a', 's1') + run('b', 's2'));
    await d.reload('edit');
    expect(events(lines, 'run-failed').map((l) => l.run)).toEqual(['b']);
    await held.release();
    await d.reload('SIGHUP');
    expect(events(lines, 'start').map((l) => l.run)).toEqual(['a', 'b']);
  });

  it('keeps, under `ckptd run`, the whole previous config of a run whose new save.to cannot be used, until an edit fixes it', async () => {
    const { dir, write } = setUp();
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const lines: Line[] = [];
    const withSaves = (to: string, keep: number): string => run('a', 's1', keep).replace('}}', `}, save: {to: ./${to}}}`);
    const d = await Daemon.start({ config: loadConfigFile(write(withSaves('saves', 3))), logger: capture(lines), watchConfigFile: false, onlyRun: 'a' });
    daemons.push(d);
    write(withSaves('afile', 5));
    await d.reload('edit');
    expect(events(lines, 'config-invalid').map((l) => l.message.replaceAll(dir, 'D'))).toEqual([
      'run a: config not applied: D/ckptd.yaml:3:114 runs.0.save.to: D/afile is a file, not a folder; set save.to to a folder (or leave it out: saves then go to <store>/saves); ' +
        'run a goes on with its previous config (path D/a, store D/s1) until an edit makes it usable',
    ]);
    // Not half of it: keep stays too, so the next reload compares with what is really in force.
    expect(d.runConfig('a')).toMatchObject({ save: { to: path.join(dir, 'saves') }, backup: { keep: 3 } });
    expect(d.runCount).toBe(1);

    write(withSaves('saves2', 5));
    await d.reload('edit');
    expect(d.runConfig('a')).toMatchObject({ save: { to: path.join(dir, 'saves2') }, backup: { keep: 5 } });
    expect(events(lines, 'reload').at(-1)?.message).toContain('save.to');
    expect(events(lines, 'run-failed')).toEqual([]);
  });

  it('starts no run after a stop that came during a reload', async () => {
    const { write } = setUp();
    const lines: Line[] = [];
    const d = await start(write(run('a', 's1')), lines);
    write(run('a', 's1') + run('b', 's2'));
    const reloading = d.reload('edit');
    await d.stop();
    await reloading;
    // Only the start before the stop: the reload, once its turn came, started nothing (not a again, not b).
    expect(events(lines, 'start').map((l) => l.run)).toEqual(['a']);
  });
});
