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
import { leftovers, snapshotFolders, verifyStore } from '../helpers/store-oracle.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
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

/** Polls until `pred` holds (or gives up after `ms`); returns whether it held. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(2);
  }
  return false;
}

describe('kill -9 during store operations', () => {
  it('a restore killed while staging leaves the run and the store intact; running it again completes it', async () => {
    const { run, store, cfg } = setup(5);
    fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(192 << 20, 1));
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":1}');
    age(run);
    const a = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    fs.writeFileSync(path.join(run, 'model.bin'), Buffer.alloc(192 << 20, 2));
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":2}');
    age(run);
    const before = sha(path.join(run, 'model.bin'));

    const proc = startDaemon(['restore', a, '--yes', '--config', cfg]);
    cleanups.push(() => proc.stop('SIGKILL'));
    const staging = (): boolean => fs.readdirSync(run).some((n) => n.startsWith('.ckptd-tmp-restore-') && fs.statSync(path.join(run, n)).size > 0);
    expect(await until(staging, 30_000), 'the restore started staging').toBe(true);
    proc.proc.kill('SIGKILL');
    await proc.stop('SIGKILL');

    // The run still holds the state it had (only the staged temp file, which scans ignore).
    expect(sha(path.join(run, 'model.bin'))).toBe(before);
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

  it('a prune killed while deleting leaves only whole snapshots visible; the next command sweeps and finishes', async () => {
    const { run, store, cfg } = setup(30);
    // Many files per snapshot, so deleting one takes long enough to be caught in the middle.
    fs.mkdirSync(path.join(run, 'shards'));
    for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(run, 'shards', `s${i}.bin`), `shard ${i}`);
    age(run);
    for (let g = 0; g < 6; g++) {
      fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ g }));
      age(run);
      const r = await runCli(['backup-now', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
    }
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('keep: 30', 'keep: 1'));

    const proc = startDaemon(['prune', '--config', cfg]);
    cleanups.push(() => proc.stop('SIGKILL'));
    const trash = path.join(store, '.trash');
    const midway = await until(() => fs.existsSync(trash) && fs.readdirSync(trash).length > 0, 30_000);
    proc.proc.kill('SIGKILL');
    await proc.stop('SIGKILL');
    expect(midway, 'the kill landed while a snapshot was being deleted').toBe(true);
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
