/**
 * A restore never acts outside the run, whatever happens to the run's folders meanwhile or to the
 * snapshot's record: a folder swapped for a symlink, a snapshot.json pointing a link elsewhere.
 * It handles any legal file name (255 bytes, not characters), and a restore that fails before it
 * replaced anything leaves no pre-restore snapshot behind.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { restoreSnapshot, type RestoreHooks } from '../../src/ops/restore.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { listSnapshots, readSnapshot } from '../../src/store/read-store.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

/** A run, its store, and an outside folder `victim/` holding `important.conf`. */
function setUp(): { run: RunConfig; runDir: string; store: string; victim: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-safety-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  const store = path.join(base, 'store');
  const victim = path.join(base, 'victim');
  fs.mkdirSync(runDir);
  fs.mkdirSync(store);
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'important.conf'), 'do not touch');
  const c = zeroConfig(runDir, store).runs[0]!;
  // A short settle: the files are written just before each capture, and how long a capture waits
  // for them is not what these tests are about (the default 2 s cost each capture 2 s).
  return { run: { ...c, settleMs: 50, retention: { ...c.retention, minFreeBytes: 0 } }, runDir, store, victim };
}

function put(root: string, rel: string, content: string): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

async function snapshot(run: RunConfig): Promise<SnapshotMeta> {
  return captureSnapshot(run, await scanRun(run), { kind: 'manual', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
}

function restore(run: RunConfig, snapshot: SnapshotMeta, hooks?: RestoreHooks) {
  return restoreSnapshot({ run, snapshot, to: null, force: true, now: Date.now(), logger: quiet, ...(hooks ? { hooks } : {}) });
}

const victimUntouched = (victim: string): void => {
  expect(fs.readdirSync(victim)).toEqual(['important.conf']);
  expect(fs.readFileSync(path.join(victim, 'important.conf'), 'utf8')).toBe('do not touch');
};

describe('restore stays inside the run', () => {
  it('removes nothing through a folder swapped for a symlink out of the run while it works', async () => {
    const { run, runDir, victim } = setUp();
    const keep = put(runDir, 'keep.bin', 'v1');
    const snap = await snapshot(run);
    fs.writeFileSync(keep, 'v2');
    // A file the snapshot lacks, twin of the outside one (same bytes and times): the restore removes it.
    const doomed = put(runDir, 'sub/important.conf', 'do not touch');
    const t = fs.statSync(path.join(victim, 'important.conf'));
    fs.utimesSync(doomed, t.atime, t.mtime);

    const swap = async (): Promise<void> => {
      await fsp.rename(path.join(runDir, 'sub'), path.join(runDir, 'sub-moved'));
      await fsp.symlink(victim, path.join(runDir, 'sub'));
    };
    await expect(restore(run, snap, { beforeCommit: swap })).rejects.toThrow(/sub: it is a symlink .*nothing there was changed/);
    victimUntouched(victim);
    expect(fs.readFileSync(path.join(runDir, 'sub-moved', 'important.conf'), 'utf8')).toBe('do not touch');
  });

  it('creates no folder through a run folder that is a symlink out of the run', async () => {
    const { run, runDir, victim } = setUp();
    put(runDir, 'keep.bin', 'v1');
    put(runDir, 'sub/deeper/new.bin', 'new');
    const snap = await snapshot(run);
    fs.rmSync(path.join(runDir, 'sub'), { recursive: true });
    fs.symlinkSync(victim, path.join(runDir, 'sub'));

    await expect(restore(run, snap)).rejects.toThrow(/sub: it is a symlink/);
    victimUntouched(victim);
    expect(fs.readlinkSync(path.join(runDir, 'sub'))).toBe(victim);
  });

  it('refuses a symlink whose target in snapshot.json differs from the stored link', async () => {
    const { run, runDir, store, victim } = setUp();
    put(runDir, 'keep.bin', 'v1');
    fs.symlinkSync('keep.bin', path.join(runDir, 'link'));
    const snap = await snapshot(run);
    fs.rmSync(path.join(runDir, 'link'));
    // Tamper the record: the link now "points" at the outside file.
    const metaFile = path.join(store, 'snapshots', snap.id, 'snapshot.json');
    const raw = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as SnapshotMeta;
    for (const f of raw.files) if (f.path === 'link') f.target = path.join(victim, 'important.conf');
    fs.chmodSync(metaFile, 0o644);
    fs.writeFileSync(metaFile, JSON.stringify(raw));
    const tampered = await readSnapshot(store, snap.id);

    await expect(restore(run, tampered)).rejects.toThrow(/link .*does not match/);
    expect(fs.existsSync(path.join(runDir, 'link'))).toBe(false);
    expect(fs.readdirSync(runDir).filter((n) => n.startsWith('.ckptd-tmp'))).toEqual([]);
    victimUntouched(victim);
    // Nothing was replaced, so no pre-restore snapshot was needed.
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([snap.id]);
  });
});

describe('restore names and pre-restore snapshots', () => {
  const long = `${'é'.repeat(120)}.bin`; // 124 characters, 244 bytes: a legal name

  it('restores a file whose name is long in bytes', async () => {
    const { run, runDir } = setUp();
    expect(Buffer.byteLength(long)).toBe(244);
    const f = put(runDir, long, 'v1');
    const snap = await snapshot(run);
    fs.writeFileSync(f, 'version two');
    const r = await restore(run, snap);
    expect(r.written).toEqual([long]);
    expect(fs.readFileSync(f, 'utf8')).toBe('v1');
    expect(fs.readdirSync(runDir).filter((n) => n.startsWith('.ckptd-tmp'))).toEqual([]);
  });

  it('a restore that fails while staging leaves no pre-restore snapshot behind', async () => {
    const { run, runDir, store } = setUp();
    put(runDir, 'a.bin', 'AAAA');
    const snap = await snapshot(run);
    fs.writeFileSync(path.join(runDir, 'a.bin'), 'BBBBBB');
    const stored = path.join(snap.path, 'a.bin');
    fs.chmodSync(stored, 0o644);
    fs.writeFileSync(stored, 'XXXX'); // same size, other bytes: a damaged snapshot
    for (let i = 0; i < 2; i++) await expect(restore(run, snap)).rejects.toThrow(/a\.bin does not match its manifest/);
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([snap.id]);
    expect(fs.readFileSync(path.join(runDir, 'a.bin'), 'utf8')).toBe('BBBBBB');
  });
});
