/**
 * The run folder swapped for a symlink elsewhere while the daemon runs (`mv run run.real; ln -s
 * OTHER run`): the daemon takes no backup of the other folder, deletes no backup to make room for
 * one, warns naming both places and the fix, says so in `ckptd status`, keeps running, and backs up
 * again once the real folder is back in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { snapshotFolders, verifyStore } from '../helpers/store-oracle.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The paths of the files snapshot `id` of `store` holds. */
function filesOf(store: string, id: string): string[] {
  const meta = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', id, 'snapshot.json'), 'utf8')) as { files: { path: string }[] };
  return meta.files.map((f) => f.path).sort();
}

describe('run folder swapped for a symlink elsewhere', () => {
  it('takes no backup of the other folder, deletes none, warns, and backs up again once the folder is back', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const other = tempDir('ckptd-other-');
    cleanups.push(other.cleanup);
    for (const n of ['a.conf', 'b.conf', 'secret']) fs.writeFileSync(path.join(other.dir, n), `not the run's ${n}`);
    const run = path.join(t.dir, 'run');
    const store = path.join(t.dir, '.ckptd', 'r');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - {name: r, path: ./run, settle: 200ms, progress: none, backup: {every: always, keep: 2}}\n`);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    fs.writeFileSync(path.join(run, 'model.bin'), 'generation 1');
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the first backup');
    fs.writeFileSync(path.join(run, 'model.bin'), 'generation 2');
    await d.waitFor((l) => l.event === 'snapshot' && d.lines.filter((x) => x.event === 'snapshot').length === 2, 20_000, 'the second backup');
    const before = snapshotFolders(store);
    expect(before).toHaveLength(2);

    // The swap: the real folder renamed away, a symlink to another folder in its place.
    fs.renameSync(run, `${run}.real`);
    fs.symlinkSync(other.dir, run);
    fs.writeFileSync(path.join(other.dir, 'c.conf'), 'written through the link');
    const warned = await d.waitFor((l) => l.event === 'run-folder-moved', 20_000, 'the warning about the swapped run folder');
    expect(warned.level).toBe('warn');
    expect(warned.message).toContain(run);
    expect(warned.message).toContain(fs.realpathSync(other.dir));
    // More writes through the link, and time for any backup they would cause.
    fs.writeFileSync(path.join(run, 'd.conf'), 'more');
    await sleep(1500);
    expect(d.proc.exitCode).toBeNull();
    // Warned once, not at every look.
    expect(d.lines.filter((l) => l.event === 'run-folder-moved')).toHaveLength(1);
    expect(d.lines.filter((l) => l.event === 'snapshot')).toHaveLength(2);
    expect(d.lines.filter((l) => l.event === 'delete')).toHaveLength(0);
    expect(snapshotFolders(store)).toEqual(before);
    for (const id of snapshotFolders(store)) expect(filesOf(store, id)).toEqual(['model.bin']);

    const status = await runCli(['status', '--json', '--config', cfg]);
    expect(status.code, status.stderr).toBe(0);
    const failing = (JSON.parse(status.stdout) as { failing: { kind: string; message: string } | null }[])[0]!.failing;
    expect(failing).toMatchObject({ kind: 'run-folder-moved' });
    expect(failing!.message).toContain(run);

    // The folder back in place: the next change is backed up again, and the failure is cleared.
    fs.unlinkSync(run);
    fs.renameSync(`${run}.real`, run);
    fs.writeFileSync(path.join(run, 'model.bin'), 'generation 3');
    await d.waitFor((l) => l.event === 'run-folder-back', 40_000, 'the folder noticed back in place');
    const third = await d.waitFor((l) => l.event === 'snapshot' && d.lines.filter((x) => x.event === 'snapshot').length === 3, 40_000, 'a backup after the folder is back');
    await d.waitFor((l) => l.event === 'evaluated' && d.lines.indexOf(l) > d.lines.indexOf(third), 20_000, 'its evaluation');
    for (const id of snapshotFolders(store)) expect(filesOf(store, id)).toEqual(['model.bin']);
    expect(verifyStore(store).problems).toEqual([]);
    const after = await runCli(['status', '--json', '--config', cfg]);
    expect((JSON.parse(after.stdout) as { failing: unknown }[])[0]!.failing).toBeNull();
    expect(d.proc.exitCode).toBeNull();
  }, 120_000);
});
