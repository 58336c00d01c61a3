/**
 * kill -9 of a `restore` and of a `prune` in the middle of their work: the store still verifies
 * (independent oracle), nothing half-done is visible, the next command cleans up, and running the
 * interrupted command again completes it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { literal, pausedAt, pauseEnv } from '../helpers/pause-at.js';
import { leftovers, snapshotFolders, verifyStore } from '../helpers/store-oracle.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function setup(keep: number): { dir: string; run: string; store: string; cfg: string } {
  const t = tempDir('ckptd-fault-ops-');
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  const store = path.join(t.dir, 'store');
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.mkdirSync(run);
  fs.writeFileSync(cfg, `runs:\n  - {name: r, path: ${run}, store: ${store}, settle: 100ms, progress: none, backup: {every: never, keep: ${keep}}, retention: {min_free: 0}}\n`);
  return { dir: t.dir, run, store, cfg };
}

function age(dir: string): void {
  const old = new Date(Date.now() - 60_000);
  for (const n of fs.readdirSync(dir, { recursive: true }) as string[]) fs.utimesSync(path.join(dir, n), old, old);
}

describe('kill -9 during store operations', () => {
  it('a restore killed while staging leaves the run and the store intact; running it again completes it', async () => {
    const { run, store, cfg } = setup(5);
    // Above the small-file size (1 MiB), so it is staged apart from state.json and may still be
    // copying when the kill comes; the pause, not its size, makes the kill land inside the staging.
    fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(4 << 20, 1));
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":1}');
    age(run);
    const a = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(4 << 20, 2));
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":2}');
    age(run);
    const runFiles = (): Record<string, string> => Object.fromEntries(['model.bin', 'state.json'].map((f) => [f, sha(path.join(run, f))]));
    const before = runFiles();

    // The restore stops itself right after creating its second staged file in the run (the first
    // is complete or being copied), however fast the copy (see pause-at.ts); then it is killed.
    const proc = startDaemon(['restore', a, '--yes', '--config', cfg], pauseEnv({ op: 'open', path: `^${literal(run)}/\\.ckptd-tmp-restore-`, nth: 2 }));
    cleanups.push(() => proc.stop('SIGKILL'));
    await pausedAt(proc.proc, 'the creation of the second staged file of the restore');
    expect(fs.readdirSync(run).filter((n) => n.startsWith('.ckptd-tmp-restore-'))).toHaveLength(2);
    await proc.stop('SIGKILL');

    // The run still holds the state it had (only the staged temp file, which scans ignore).
    expect(runFiles()).toEqual(before);
    const report = verifyStore(store);
    expect(report.problems).toEqual([]);
    expect(report.incomplete).toEqual([]);

    const again = await runCli(['restore', a, '--yes', '--json', '--config', cfg]);
    expect(again.code, again.stderr).toBe(0);
    const shown = JSON.parse((await runCli(['show', a, '--json', '--config', cfg])).stdout) as { files: { path: string; sha256: string }[] };
    for (const f of shown.files) expect(sha(path.join(run, f.path))).toBe(f.sha256);
    expect(fs.readdirSync(run).filter((n) => n.startsWith('.ckptd-'))).toEqual([]);
    expect(verifyStore(store).problems).toEqual([]);
  });

  it('a restore killed while staging into a folder the run lacks: the next restore, of any snapshot, removes its temp files there', async () => {
    const { run, store, cfg } = setup(5);
    fs.mkdirSync(path.join(run, 'ckpt', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(run, 'ckpt', 'deep', 'model.bin'), Buffer.alloc(4 << 20, 1));
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":1}');
    age(run);
    const a = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    fs.rmSync(path.join(run, 'ckpt'), { recursive: true });
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":2}');
    age(run);
    const b = (await runCli(['snapshot', '--config', cfg])).stdout.trim();

    // Killed right after it created the staged file in ckpt/deep/, a folder only the staging made.
    const proc = startDaemon(['restore', a, '--yes', '--config', cfg], pauseEnv({ op: 'open', path: `^${literal(path.join(run, 'ckpt', 'deep'))}/\\.ckptd-tmp-restore-` }));
    cleanups.push(() => proc.stop('SIGKILL'));
    await pausedAt(proc.proc, 'the creation of the staged file in ckpt/deep/');
    await proc.stop('SIGKILL');
    const ours = (): string[] => (fs.readdirSync(run, { recursive: true }) as string[]).filter((n) => path.basename(n).startsWith('.ckptd-'));
    expect(ours().filter((n) => n.startsWith('ckpt/deep/'))).toHaveLength(1);

    const other = await runCli(['restore', b, '--yes', '--config', cfg]);
    expect(other.code, other.stderr).toBe(0);
    expect(ours()).toEqual([]);
    const again = await runCli(['restore', a, '--yes', '--config', cfg]);
    expect(again.code, again.stderr).toBe(0);
    const files = (fs.readdirSync(run, { recursive: true }) as string[]).filter((n) => fs.lstatSync(path.join(run, n)).isFile()).sort();
    expect(files).toEqual(['ckpt/deep/model.bin', 'state.json']);
    expect(verifyStore(store).problems).toEqual([]);
  });

  it('a prune killed while deleting leaves only whole snapshots visible; the next command sweeps and finishes', async () => {
    const { run, store, cfg } = setup(30);
    // Several hundred files per snapshot, so deleting one takes many unlinks (the pause, not their
    // number, makes the kill land midway through the deletions).
    fs.mkdirSync(path.join(run, 'shards'));
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(run, 'shards', `s${i}.bin`), `shard ${i}`);
    age(run);
    // Four backups: keep 1 deletes three, so the kill after the second move leaves one to delete.
    for (let g = 0; g < 4; g++) {
      fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ g }));
      age(run);
      const r = await runCli(['backup-now', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
    }
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('keep: 30', 'keep: 1'));

    // The prune stops itself right after it moved the second snapshot to delete into .trash (see
    // pause-at.ts): midway through its deletions, however fast the disk; then it is killed.
    const proc = startDaemon(['prune', '--config', cfg], pauseEnv({ op: 'rename', path: `^${literal(path.join(store, '.trash'))}/`, nth: 2 }));
    cleanups.push(() => proc.stop('SIGKILL'));
    await pausedAt(proc.proc, 'the move of the second snapshot into .trash');
    const trash = path.join(store, '.trash');
    expect(fs.readdirSync(trash).length, 'a snapshot is being deleted').toBeGreaterThan(0);
    await proc.stop('SIGKILL');
    const report = verifyStore(store);
    expect(report.problems).toEqual([]);
    expect(report.incomplete).toEqual([]);
    expect(snapshotFolders(store).length).toBeGreaterThanOrEqual(1);

    // The next write command sweeps what the kill left; running prune again finishes the job.
    const finish = await runCli(['prune', '--json', '--config', cfg]);
    expect(finish.code, finish.stderr).toBe(0);
    expect(leftovers(store)).toEqual([]);
    expect(verifyStore(store).problems).toEqual([]);
    expect(snapshotFolders(store)).toHaveLength(1);
  });
});
