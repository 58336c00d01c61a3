/**
 * A live edit that points a running run at a place it cannot use (a `path` or `store` that is a
 * file, a store another ckptd holds) is a bad config for that run (SPEC section 6): it is reported
 * with its line, key and what to change, and the run goes on being backed up on its last good
 * config; other runs' edits apply; the edit that fixes it moves the run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireStoreLock } from '../../src/store/lock.js';
import { startDaemon, tempDir, type DaemonHandle, type LogLine } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const run = (name: string, where: string, keep = 3): string =>
  `  - {name: ${name}, ${where}, settle: 200ms, progress: none, backup: {every: always, keep: ${keep}}}\n`;

/** A temp folder with run folders a, a2 and b (each with a model.bin), `afile` (a file) and a config. */
function world(): { dir: string; edit: (runs: string) => void } {
  const t = tempDir('ckptd-reload-place-');
  cleanups.push(t.cleanup);
  for (const r of ['a', 'a2', 'b']) {
    fs.mkdirSync(path.join(t.dir, r));
    fs.writeFileSync(path.join(t.dir, r, 'model.bin'), `${r} epoch 1`);
  }
  fs.writeFileSync(path.join(t.dir, 'afile'), 'x');
  const cfg = path.join(t.dir, 'ckptd.yaml');
  // Through a rename, as editors save: the daemon never reads half a file.
  const edit = (runs: string): void => {
    fs.writeFileSync(`${cfg}.tmp`, `log: {level: debug, format: json}\nruns:\n${runs}`);
    fs.renameSync(`${cfg}.tmp`, cfg);
  };
  return { dir: t.dir, edit };
}

function daemon(dir: string): DaemonHandle {
  const d = startDaemon(['daemon', '--config', path.join(dir, 'ckptd.yaml')]);
  cleanups.push(() => d.stop());
  return d;
}

const backupsOf = (d: DaemonHandle, name: string): LogLine[] => d.lines.filter((l) => l.event === 'snapshot' && l.run === name);
const nth = (d: DaemonHandle, name: string, n: number): Promise<LogLine> =>
  d.waitFor(() => backupsOf(d, name).length >= n, 20_000, `backup ${n} of run ${name}`);
const snapshotsIn = (store: string): number => (fs.existsSync(path.join(store, 'snapshots')) ? fs.readdirSync(path.join(store, 'snapshots')).length : 0);

/** A daemon whose one run `a` (folder ./a, store ./sa) has taken its first backup. */
async function runningA(): Promise<{ dir: string; edit: (runs: string) => void; d: DaemonHandle }> {
  const { dir, edit } = world();
  edit(run('a', 'path: ./a, store: ./sa'));
  const d = daemon(dir);
  await nth(d, 'a', 1);
  return { dir, edit, d };
}

/** Store folder `name` of `dir`, created and locked as another ckptd would hold it. */
async function heldStore(dir: string, name: string): Promise<{ release: () => Promise<void> }> {
  fs.mkdirSync(path.join(dir, name));
  const held = await acquireStoreLock(path.join(dir, name), { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
  cleanups.push(() => held.release());
  return held;
}

describe('a live edit that points a run at a place it cannot use', () => {
  it('a path that is a file: reported, the run goes on from its previous folder, the fix moves it', async () => {
    const { dir, edit } = world();
    edit(run('a', 'path: ./a, store: ./sa') + run('b', 'path: ./b, store: ./sb'));
    const d = daemon(dir);
    await nth(d, 'a', 1);
    await d.waitFor((l) => l.event === 'evaluated' && l.run === 'a', 20_000, 'the first evaluation of a done');

    edit(run('a', 'path: ./afile, store: ./sa') + run('b', 'path: ./b, store: ./sb', 5));
    const kept = await d.waitFor((l) => l.event === 'config-invalid' && l.run === 'a', 20_000, 'the bad path reported');
    expect(kept.level).toBe('error');
    expect(kept.message.replaceAll(dir, 'D')).toBe(
      'run a: config not applied: D/ckptd.yaml:3:21 runs.0.path: D/afile is a file, not a folder; set path to the folder the trainer writes; ' +
        'run a goes on with its previous config (path D/a, store D/sa) until an edit (or SIGHUP) makes it usable',
    );
    // The other run's edit applies.
    await d.waitFor((l) => l.event === 'reload' && l.run === 'b' && l.message.includes('backup.keep 3 → 5'), 20_000, "run b's edit applied");

    fs.writeFileSync(path.join(dir, 'a', 'model.bin'), 'a epoch 2');
    await nth(d, 'a', 2);
    expect(snapshotsIn(path.join(dir, 'sa'))).toBe(2);

    // The edit that fixes it moves the run: its new folder is backed up.
    edit(run('a', 'path: ./a2, store: ./sa') + run('b', 'path: ./b, store: ./sb', 5));
    await d.waitFor((l) => l.event === 'reload' && l.run === 'a' && l.message.includes('path'), 20_000, 'the fixed path applied');
    await nth(d, 'a', 3);
    expect(d.lines.filter((l) => l.event === 'run-failed')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });

  it('a store that is a file, then one another ckptd holds: reported, backups go on in the previous store, the fix moves it', async () => {
    const { dir, edit, d } = await runningA();
    await d.waitFor((l) => l.event === 'evaluated' && l.run === 'a', 20_000, 'the first evaluation done');

    edit(run('a', 'path: ./a, store: ./afile'));
    const kept = await d.waitFor((l) => l.event === 'config-invalid' && l.run === 'a', 20_000, 'the bad store reported');
    expect(kept.message.replaceAll(dir, 'D')).toBe(
      "run a: config not applied: D/ckptd.yaml:3:33 runs.0.store: D/afile is a file, not a folder; set store to a folder (or leave it out for the default, <path's parent>/.ckptd/a); " +
        'run a goes on with its previous config (path D/a, store D/sa) until an edit (or SIGHUP) makes it usable',
    );
    fs.writeFileSync(path.join(dir, 'a', 'model.bin'), 'a epoch 2');
    await nth(d, 'a', 2);
    expect(snapshotsIn(path.join(dir, 'sa'))).toBe(2);

    // Another process holds the store the next edit names: the run goes on where it was.
    const held = await heldStore(dir, 'sc');
    edit(run('a', 'path: ./a, store: ./sc'));
    const refused = await d.waitFor((l) => l.event === 'run-move-failed' && l.run === 'a', 20_000, 'the held store reported');
    expect(refused.level).toBe('error');
    expect(refused.message.replaceAll(dir, 'D')).toMatch(/^run a: cannot move to store D\/sc: .*in use by.*; run a goes on with its previous config \(path D\/a, store D\/sa\)/);
    fs.writeFileSync(path.join(dir, 'a', 'model.bin'), 'a epoch 3');
    await nth(d, 'a', 3);
    expect(snapshotsIn(path.join(dir, 'sa'))).toBe(3);

    // Freed, and the file saved again as it is: the new store applies.
    await held.release();
    edit(run('a', 'path: ./a, store: ./sc'));
    await d.waitFor((l) => l.event === 'start' && l.run === 'a' && l.message.includes(path.join(dir, 'sc')), 20_000, 'the run started in the new store');
    await nth(d, 'a', 4);
    expect(snapshotsIn(path.join(dir, 'sc'))).toBe(1);
    expect(d.lines.filter((l) => l.event === 'run-failed')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });

  it('a move to a held store when the previous folder cannot be used either: says the run is not backed up, not that it goes on', async () => {
    const { dir, edit, d } = await runningA();
    // Its folder is gone (a file in its place), and the edit moves the run to a new folder and a
    // store another process holds.
    fs.renameSync(path.join(dir, 'a'), path.join(dir, 'a.old'));
    fs.writeFileSync(path.join(dir, 'a'), 'x');
    await heldStore(dir, 'sc');
    edit(run('a', 'path: ./a2, store: ./sc'));
    const refused = await d.waitFor((l) => l.event === 'run-move-failed' && l.run === 'a', 20_000, 'the held store reported');
    expect(refused.message.replaceAll(dir, 'D')).toMatch(
      /^run a: cannot move to store D\/sc: .*in use by.*; nor can it go on with its previous config \(path D\/a, store D\/sa\): nothing is backed up for it until an edit \(or SIGHUP\) makes it usable$/,
    );
    expect(d.lines.some((l) => l.event === 'run-failed' && l.run === 'a' && l.message.includes('is a file'))).toBe(true);
    expect(await d.stop()).toBe(0);
  });
});
