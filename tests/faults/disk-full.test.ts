/**
 * A full disk under the real daemon: the store lives on an 8 MiB file system (tmpfs in a user
 * namespace, see `small-fs.ts`), the run folder outside it. States that fit are backed up; one that
 * does not is either refused up front (`retention.min_free`, event `low-disk`) or hits ENOSPC in the
 * middle of the copy (`min_free: 0`). Either way the daemon says so clearly, leaves no staging,
 * keeps every stored snapshot intact and keeps running, and it succeeds once space is freed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { makeSmallFs, type SmallFs } from '../helpers/small-fs.js';
import { leftovers, snapshotFolders, verifyStore } from '../helpers/store-oracle.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const MiB = 1 << 20;

interface Scenario {
  small: SmallFs;
  d: DaemonHandle;
  cfg: string;
  runDir: string;
  /** The store as this process sees it. */
  store: string;
  filler: string;
}

/**
 * An empty run folder and a config (`settle`, `every`, `min_free` as given) whose store is on an
 * 8 MiB file system.
 */
async function smallStore(o: { settle: string; every: string; minFree: string }): Promise<{ small: SmallFs; cfg: string; runDir: string }> {
  const t = tempDir('ckptd-fault-disk-');
  cleanups.push(t.cleanup);
  const fsDir = path.join(t.dir, 'fs');
  fs.mkdirSync(fsDir);
  const small = await makeSmallFs(fsDir, 8 * MiB);
  cleanups.push(() => small.close());
  const runDir = path.join(t.dir, 'run');
  fs.mkdirSync(runDir);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    store: ${path.join(fsDir, 'store')}
    settle: ${o.settle}
    progress: none
    backup: {every: ${o.every}, keep: 10}
    retention: {min_free: ${o.minFree}}
`,
  );
  return { small, cfg, runDir };
}

/**
 * A run folder and a config (its `retention` line given) whose store is on a file system of 64 MiB
 * but only `inodes` files and folders.
 */
async function fewInodes(inodes: number, retention: string, backup = ''): Promise<{ small: SmallFs; cfg: string; runDir: string; store: string }> {
  const t = tempDir('ckptd-fault-inodes-');
  cleanups.push(t.cleanup);
  const fsDir = path.join(t.dir, 'fs');
  fs.mkdirSync(fsDir);
  const small = await makeSmallFs(fsDir, 64 * MiB, inodes);
  cleanups.push(() => small.close());
  const runDir = path.join(t.dir, 'run');
  fs.mkdirSync(runDir);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `runs:\n  - name: train\n    path: ${runDir}\n    store: ${path.join(fsDir, 'store')}\n    settle: 10ms\n    progress: none\n${backup}    retention: ${retention}\n`);
  return { small, cfg, runDir, store: path.join(small.view, 'store') };
}

/** An 8 MiB store holding a 3 MiB filler, a daemon on it, and two backed-up states of 1 MiB each. */
async function setUp(minFree: string): Promise<Scenario> {
  const { small, cfg, runDir } = await smallStore({ settle: '200ms', every: 'always', minFree });
  const filler = path.join(small.view, 'filler.bin');
  fs.writeFileSync(filler, Buffer.alloc(3 * MiB, 1));
  const d = startDaemon(['daemon', '--config', cfg], small.env, small.wrap);
  cleanups.push(() => d.stop());
  await d.waitFor((l) => l.event === 'daemon-start', 30_000, 'daemon start');
  const s: Scenario = { small, d, cfg, runDir, store: path.join(small.view, 'store'), filler };
  for (const gen of [1, 2]) {
    const seen = d.lines.length;
    fs.writeFileSync(path.join(runDir, 'weights.bin'), Buffer.alloc(MiB, gen));
    await d.waitFor((l) => l.event === 'snapshot' && d.lines.indexOf(l) >= seen, 30_000, `backup of state ${gen}`);
  }
  expect(snapshotFolders(s.store)).toHaveLength(2);
  return s;
}

/** Frees the filler and asks the daemon for a backup: it must take one, and the store must verify. Returns its id. */
async function freeSpaceAndBackUp(s: Scenario): Promise<string> {
  fs.rmSync(s.filler);
  const now = await runCli(['backup-now', '--config', s.cfg, '--json'], { env: s.small.env, wrap: s.small.wrap });
  expect(now.code, `${now.stderr}\n${s.d.output().slice(-3000)}`).toBe(0);
  const taken = JSON.parse(now.stdout) as { id: string; via_daemon: boolean };
  expect(taken.via_daemon).toBe(true);
  const report = verifyStore(s.store);
  expect(report.problems).toEqual([]);
  expect(report.snapshots.map((x) => x.id)).toHaveLength(3);
  expect(leftovers(s.store)).toEqual([]);
  expect(await s.d.stop()).toBe(0);
  return taken.id;
}

describe('disk full', () => {
  it('a sparse file far larger than the free space, but with few blocks written, is backed up (its holes kept), not refused as too big', async () => {
    const { small, cfg, runDir } = await smallStore({ settle: '10ms', every: 'never', minFree: '1MiB' });
    // 256 MiB apparent, two 4 KiB blocks written: what a preallocating trainer or `truncate` leaves.
    const sparse = path.join(runDir, 'sparse.bin');
    const fd = fs.openSync(sparse, 'w');
    fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 0);
    fs.writeSync(fd, Buffer.alloc(4096, 8), 0, 4096, 200 * MiB);
    fs.ftruncateSync(fd, 256 * MiB);
    fs.closeSync(fd);
    expect(fs.statSync(sparse).blocks * 512).toBeLessThan(MiB);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(sparse, old, old);
    const r = await runCli(['snapshot', '--config', cfg, '--json'], { env: small.env, wrap: small.wrap });
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    const stored = fs.statSync(path.join(small.view, 'store', 'snapshots', id, 'files', 'sparse.bin'));
    expect(stored.size).toBe(256 * MiB);
    expect(stored.blocks * 512).toBeLessThan(MiB);
    expect(verifyStore(path.join(small.view, 'store')).problems).toEqual([]);
  });

  it('with min_free: 0, ENOSPC mid-snapshot fails that snapshot cleanly; the daemon keeps running and succeeds once space is freed', async () => {
    const s = await setUp('0');
    const before = verifyStore(s.store);
    expect(before.problems).toEqual([]);

    // 1000 files of 100 bytes: the up-front estimate (apparent size, 100 kB) fits in the ~3 MiB
    // left, but each stored file takes a whole 4 KiB page, so the copy runs out of space midway.
    const seen = s.d.lines.length;
    const many = path.join(s.runDir, 'tokens');
    fs.mkdirSync(many);
    for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(many, `${i}.json`), JSON.stringify({ i, pad: 'x'.repeat(80) }));
    const failed = await s.d.waitFor((l) => l.level === 'error' && s.d.lines.indexOf(l) >= seen, 30_000, 'the failure');
    expect(failed.message).toMatch(/no space left on the device \(ENOSPC\) while writing \/\S+; free some space/);
    expect(failed.message).toMatch(/retrying in \d+s/);
    expect(s.d.lines.filter((l) => (l.event === 'snapshot' || l.event === 'low-disk') && s.d.lines.indexOf(l) >= seen)).toEqual([]);

    // No staging left behind, every earlier snapshot still whole, nothing new made visible.
    expect(leftovers(s.store)).toEqual([]);
    const after = verifyStore(s.store);
    expect(after.problems).toEqual([]);
    expect(after.incomplete).toEqual([]);
    expect(after.snapshots).toEqual(before.snapshots);
    expect(s.d.proc.exitCode).toBe(null);

    const id = await freeSpaceAndBackUp(s);
    const files = verifyStore(s.store).snapshots.find((x) => x.id === id)!.files;
    expect(files.filter((f) => f.path.startsWith('tokens/'))).toHaveLength(1000);
  });

  it('with min_free set, a snapshot that would cross it is refused up front with a low-disk warning, and taken once space is freed', async () => {
    const s = await setUp('1MiB');
    const before = verifyStore(s.store);

    const seen = s.d.lines.length;
    const big = Buffer.alloc(4 * MiB, 9);
    fs.writeFileSync(path.join(s.runDir, 'big.bin'), big);
    const refused = await s.d.waitFor((l) => l.event === 'low-disk' && s.d.lines.indexOf(l) >= seen, 30_000, 'the low-disk warning');
    expect(refused.level).toBe('warn');
    // It cannot fit at all (the disk is smaller than min_free + the file): the message says to free space.
    expect(refused.message).toMatch(/not taking a backup snapshot: it needs 4\.19 MB but only .* is free on \S+, and retention could not free enough; free some space/);
    // Refused before writing anything: no ENOSPC was ever hit.
    expect(s.d.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(leftovers(s.store)).toEqual([]);
    expect(verifyStore(s.store)).toEqual(before);
    expect(s.d.proc.exitCode).toBe(null);

    const id = await freeSpaceAndBackUp(s);
    expect(fs.readFileSync(path.join(s.store, 'snapshots', id, 'files', 'big.bin')).equals(big)).toBe(true);
  });

  it('a file system short of inodes, not bytes, refuses a snapshot of many small files up front, saying so, and nothing is written', async () => {
    // 64 MiB of room but 64 files and folders at most: the run's 100 files cannot all be stored.
    const { small, cfg, runDir, store } = await fewInodes(64, '{min_free: 1MiB}');
    const old = new Date(Date.now() - 60_000);
    for (let i = 0; i < 100; i++) {
      const f = path.join(runDir, `${i}.json`);
      fs.writeFileSync(f, JSON.stringify({ i }));
      fs.utimesSync(f, old, old);
    }
    const r = await runCli(['snapshot', '--config', cfg], { env: small.env, wrap: small.wrap });
    expect(r.code, r.stderr).toBe(1);
    // 100 files, the snapshot's own folders and files: more than the 64 the file system has.
    expect(r.stderr).toMatch(/not taking a manual snapshot: it needs 10\d new files and folders \(inodes\) but the file system of \S+ has only \d+ left, whatever its free bytes \(`df -i` shows them\)/);
    expect(r.stderr).not.toMatch(/free some space/);
    expect(leftovers(store)).toEqual([]);
    expect(verifyStore(store).snapshots).toEqual([]);
  });

  it('short of inodes, the oldest unprotected backup is deleted to make room, as min_free deletes for bytes, and the backup is taken', async () => {
    // Room for two backups of the run's 30 files, not three: each new one takes ~34 inodes.
    const { small, cfg, runDir, store } = await fewInodes(100, '{min_free: 1MiB, min_age: 0s}', '    backup: {every: never, keep: 10}\n');
    fs.mkdirSync(path.join(runDir, 'tokens'));
    const old = new Date(Date.now() - 60_000);
    const backUp = async (gen: number): Promise<{ code: number | null; stderr: string; id: string | null }> => {
      for (let i = 0; i < 30; i++) {
        const f = path.join(runDir, 'tokens', `${i}.json`);
        fs.writeFileSync(f, JSON.stringify({ gen, i }));
        fs.utimesSync(f, old, old);
      }
      const r = await runCli(['backup-now', '--config', cfg, '--json'], { env: small.env, wrap: small.wrap });
      return { code: r.code, stderr: r.stderr, id: r.code === 0 ? (JSON.parse(r.stdout) as { id: string }).id : null };
    };
    const first = await backUp(1);
    const second = await backUp(2);
    expect([first.code, second.code], `${first.stderr}\n${second.stderr}`).toEqual([0, 0]);
    const third = await backUp(3);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(
      /disk low: a backup snapshot needs \d+ new files and folders \(inodes\) and the file system of \S+ has \d+ left; deleting the oldest unprotected backups to free \d+ inodes/,
    );
    const report = verifyStore(store);
    expect(report.problems).toEqual([]);
    expect(report.snapshots.map((x) => x.id).sort()).toEqual([second.id, third.id].sort());
    expect(leftovers(store)).toEqual([]);
    const stored = report.snapshots.find((x) => x.id === third.id)!;
    expect(JSON.parse(fs.readFileSync(path.join(store, 'snapshots', third.id!, 'files', 'tokens', '7.json'), 'utf8'))).toEqual({ gen: 3, i: 7 });
    expect(stored.files).toHaveLength(30);
  });
});
