import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import type { RunConfig } from '../../src/config/types.js';
import { applyRetention, captureSnapshot } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { readDamagedMarker, recordVerification } from '../../src/store/damaged-marker.js';
import { deleteSnapshot, sweepStore } from '../../src/store/delete-snapshot.js';
import { findBroken, listSaves, listSnapshots, newestGoodSnapshot, readSnapshot, resolveId } from '../../src/store/read-store.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import { verifySave, verifySnapshot, type VerifyResult } from '../../src/store/verify-snapshot.js';
import { writeSave } from '../../src/store/write-save.js';
import type { Logger } from '../../src/util/logger.js';
import { age, put, runAndStore, scanAll, sha256File, snap } from './fixtures.js';

const MODEL = Buffer.alloc(300_000, 7);
const OPTIM = Buffer.alloc(200_000, 9);

/** A run with a model, an optimizer in a sub-folder, a config and a symlink, and one snapshot of it. */
async function stateWithSnapshot() {
  const { base, run, store } = await runAndStore();
  for (const [rel, data] of [
    ['model.safetensors', MODEL],
    ['sub/optimizer.pt', OPTIM],
    ['config.json', '{"lr": 0.001}'],
  ] as const) {
    age(put(run, rel, data));
  }
  fs.symlinkSync('model.safetensors', path.join(run, 'latest'));
  const meta = await snap(run, store);
  return { base, run, store, meta };
}

/** Rewrites a stored (read-only) file in place: same inode, so every hard link to it sees the change. */
function overwriteInPlace(file: string, data: Buffer | string): void {
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, data);
  fs.chmodSync(file, 0o444);
}

/** Replaces a stored file with a new inode (other snapshots linking the old one are untouched). */
function replaceFile(file: string, data: Buffer | string): void {
  fs.unlinkSync(file);
  fs.writeFileSync(file, data, { mode: 0o444 });
}

function verdict(r: VerifyResult) {
  return { ok: r.ok, missing: r.missing, changed: r.changed, extra: r.extra };
}

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** The run's config for `captureSnapshot`/`applyRetention`; creates the store as the daemon does at start. */
function runConfig(run: string, store: string, keep: number): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return { ...c, backup: { ...c.backup, keep }, retention: { ...c.retention, minFreeBytes: 0 } };
}

describe('verifySnapshot', () => {
  it('passes a fresh snapshot, hashing every stored byte and reporting them as progress', async () => {
    const { store, meta } = await stateWithSnapshot();
    let reported = 0;
    const r = await verifySnapshot(store, meta, (n) => (reported += n));
    expect(verdict(r)).toEqual({ ok: true, missing: [], changed: [], extra: [] });
    const regular = MODEL.length + OPTIM.length + '{"lr": 0.001}'.length;
    expect(r.bytesHashed).toBe(regular);
    expect(reported).toBe(regular);
    expect(r.files).toBe(4);
  });

  it('checks large files (hashed on worker threads, two at a time) byte for byte', async () => {
    const { run, store } = await runAndStore();
    const big = [1, 2, 3].map((i) => Buffer.alloc((2 << 20) + i, i));
    big.forEach((b, i) => age(put(run, `shard-${i}.bin`, b)));
    age(put(run, 'config.json', '{}'));
    const meta = await snap(run, store);
    const files = path.join(store, 'snapshots', meta.id, 'files');
    const flipped = Buffer.from(big[1]!);
    flipped[flipped.length - 1] = 0xff;
    overwriteInPlace(path.join(files, 'shard-1.bin'), flipped);
    let reported = 0;
    const r = await verifySnapshot(store, meta, (n) => (reported += n));
    expect(verdict(r)).toEqual({ ok: false, missing: [], changed: [{ path: 'shard-1.bin', reason: 'sha256 differs' }], extra: [] });
    const all = big.reduce((n, b) => n + b.length, 0) + 2;
    expect(r.bytesHashed).toBe(all);
    expect(reported).toBe(all);
  });

  const cases: { name: string; damage: (files: string, base: string) => void; expect: Partial<ReturnType<typeof verdict>> }[] = [
    {
      name: 'bytes changed in place, same size',
      damage: (files) => overwriteInPlace(path.join(files, 'model.safetensors'), Buffer.alloc(MODEL.length, 8)),
      expect: { changed: [{ path: 'model.safetensors', reason: 'sha256 differs' }] },
    },
    {
      name: 'a file grew',
      damage: (files) => {
        const f = path.join(files, 'config.json');
        fs.chmodSync(f, 0o644);
        fs.appendFileSync(f, ' ');
      },
      expect: { changed: [{ path: 'config.json', reason: `size ${'{"lr": 0.001}'.length + 1}, manifest says ${'{"lr": 0.001}'.length}` }] },
    },
    {
      name: 'a file deleted',
      damage: (files) => fs.unlinkSync(path.join(files, 'sub/optimizer.pt')),
      expect: { missing: ['sub/optimizer.pt'] },
    },
    {
      name: 'a whole folder deleted',
      damage: (files) => fs.rmSync(path.join(files, 'sub'), { recursive: true, force: true }),
      expect: { missing: ['sub/optimizer.pt'] },
    },
    {
      name: 'extra files and folders added',
      damage: (files) => {
        put(files, 'notes.txt', 'x');
        put(files, 'sub/stray.bin', 'y');
        put(files, 'new/deep/a.bin', 'z');
      },
      expect: { extra: ['new/', 'notes.txt', 'sub/stray.bin'] },
    },
    {
      name: 'a symlink retargeted',
      damage: (files) => {
        fs.unlinkSync(path.join(files, 'latest'));
        fs.symlinkSync('config.json', path.join(files, 'latest'));
      },
      expect: { changed: [{ path: 'latest', reason: 'symlink target "config.json", manifest says "model.safetensors"' }] },
    },
    {
      name: 'a file replaced by a symlink to an identical copy (never followed)',
      damage: (files, base) => {
        fs.writeFileSync(path.join(base, 'copy.safetensors'), MODEL);
        fs.unlinkSync(path.join(files, 'model.safetensors'));
        fs.symlinkSync(path.join(base, 'copy.safetensors'), path.join(files, 'model.safetensors'));
      },
      expect: { changed: [{ path: 'model.safetensors', reason: 'is a symlink, not a regular file' }] },
    },
    {
      name: 'a folder replaced by a symlink to an identical copy (never followed)',
      damage: (files, base) => {
        put(base, 'elsewhere/optimizer.pt', OPTIM);
        fs.rmSync(path.join(files, 'sub'), { recursive: true, force: true });
        fs.symlinkSync(path.join(base, 'elsewhere'), path.join(files, 'sub'));
      },
      expect: { changed: [{ path: 'sub/optimizer.pt', reason: 'folder sub is now a symlink' }], extra: ['sub'] },
    },
  ];

  it.each(cases)('reports $name', async ({ damage, expect: want }) => {
    const { base, store, meta } = await stateWithSnapshot();
    damage(meta.path, base);
    const r = await verifySnapshot(store, meta);
    expect(verdict(r)).toEqual({ ok: false, missing: [], changed: [], extra: [], ...want });
  });

  it('counts every regular byte as progress even when files are missing or resized', async () => {
    const { store, meta } = await stateWithSnapshot();
    fs.unlinkSync(path.join(meta.path, 'model.safetensors'));
    fs.chmodSync(path.join(meta.path, 'config.json'), 0o644);
    fs.writeFileSync(path.join(meta.path, 'config.json'), '{}');
    let reported = 0;
    const r = await verifySnapshot(store, meta, (n) => (reported += n));
    expect(r.bytesHashed).toBe(OPTIM.length);
    expect(reported).toBe(MODEL.length + OPTIM.length + '{"lr": 0.001}'.length);
  });
});

describe('damaged markers', () => {
  it('marks a failed snapshot without rewriting snapshot.json, keeps the first finding time, and clears the mark once it verifies', async () => {
    const { store, meta } = await stateWithSnapshot();
    const metaFile = path.join(store, 'snapshots', meta.id, 'snapshot.json');
    const metaBytes = fs.readFileSync(metaFile);
    const model = path.join(meta.path, 'model.safetensors');
    overwriteInPlace(model, Buffer.alloc(MODEL.length, 1));

    const t1 = Date.UTC(2026, 10, 23, 10, 0, 0);
    expect(await recordVerification(store, await verifySnapshot(store, meta), t1)).toBe('marked');
    const marker = JSON.parse(fs.readFileSync(path.join(store, 'damaged', `${meta.id}.json`), 'utf8')) as unknown;
    expect(marker).toEqual({
      id: meta.id,
      found: new Date(t1).toISOString(),
      checked: new Date(t1).toISOString(),
      missing: [],
      changed: [{ path: 'model.safetensors', reason: 'sha256 differs' }],
      extra: [],
    });
    expect((await listSnapshots(store)).map((s) => s.damaged)).toEqual([true]);
    expect((await readSnapshot(store, meta.id)).damaged).toBe(true);
    expect((await resolveId(store, meta.id.slice(0, 12))).damaged).toBe(true);
    expect(fs.readFileSync(metaFile)).toEqual(metaBytes);
    expect(await findBroken(store)).toEqual([]);

    const t2 = t1 + 60_000;
    expect(await recordVerification(store, await verifySnapshot(store, meta), t2)).toBe('still-damaged');
    expect(await readDamagedMarker(store, meta.id)).toMatchObject({ found: new Date(t1).toISOString(), checked: new Date(t2).toISOString() });

    overwriteInPlace(model, MODEL);
    expect(await recordVerification(store, await verifySnapshot(store, meta), t2)).toBe('cleared');
    expect(fs.existsSync(path.join(store, 'damaged', `${meta.id}.json`))).toBe(false);
    expect((await readSnapshot(store, meta.id)).damaged).toBe(false);
    expect(await recordVerification(store, await verifySnapshot(store, meta), t2)).toBe('unchanged');
    expect(fs.readFileSync(metaFile)).toEqual(metaBytes);
  });

  it('writes no mark for a snapshot deleted meanwhile; deleting removes the mark; the sweep drops stale marks and temp files', async () => {
    const { run, store, meta } = await stateWithSnapshot();
    fs.unlinkSync(path.join(meta.path, 'config.json'));
    const failed = await verifySnapshot(store, meta);
    const other = await snap(run, store, { now: Date.now() + 1000 });
    fs.unlinkSync(path.join(other.path, 'config.json'));
    expect(await recordVerification(store, await verifySnapshot(store, other), Date.now())).toBe('marked');

    await deleteSnapshot(store, meta.id);
    expect(await recordVerification(store, failed, Date.now())).toBe('record-gone');
    expect(fs.readdirSync(path.join(store, 'damaged'))).toEqual([`${other.id}.json`]);

    await deleteSnapshot(store, other.id);
    expect(fs.readdirSync(path.join(store, 'damaged'))).toEqual([]);

    // Left by a crash: a marker whose snapshot is gone, a temp file of an atomic write.
    const third = await snap(run, store, { now: Date.now() + 2000 });
    fs.unlinkSync(path.join(third.path, 'config.json'));
    await recordVerification(store, await verifySnapshot(store, third), Date.now());
    fs.writeFileSync(path.join(store, 'damaged', '20200101-000000-000-abcd.json'), '{}');
    fs.writeFileSync(path.join(store, 'damaged', '.ckptd-tmp-x.json-1234'), '{');
    const { removed } = await sweepStore(store);
    expect(removed.filter((p) => p.includes(`${path.sep}damaged${path.sep}`)).map((p) => path.basename(p)).sort()).toEqual([
      '.ckptd-tmp-x.json-1234',
      '20200101-000000-000-abcd.json',
    ]);
    expect(fs.readdirSync(path.join(store, 'damaged'))).toEqual([`${third.id}.json`]);
    expect((await listSnapshots(store)).map((s) => [s.id, s.damaged])).toEqual([[third.id, true]]);
  });
});

describe('damaged snapshots in later snapshots and retention', () => {
  it('never hard-links from a damaged snapshot: with no good one, the next snapshot copies everything', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'model.safetensors', MODEL));
    age(put(run, 'optimizer.pt', OPTIM));
    const cfg = runConfig(run, store, 5);
    const entries = await scanAll(run, store);
    const first = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
    // Same size, other bytes: a link source check by size alone would not notice.
    overwriteInPlace(path.join(first.path, 'model.safetensors'), Buffer.alloc(MODEL.length, 1));
    await recordVerification(store, await verifySnapshot(store, first), Date.now());
    expect(await newestGoodSnapshot(store)).toBeNull();

    const next = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() + 1000 }, quiet);
    expect(next.linked_bytes).toBe(0);
    expect(next.copied_bytes).toBe(MODEL.length + OPTIM.length);
    expect(sha256File(path.join(next.path, 'model.safetensors'))).toBe(sha256File(path.join(run, 'model.safetensors')));
    expect(verdict(await verifySnapshot(store, next)).ok).toBe(true);
  });

  it('links from the newest good snapshot when a newer one is damaged', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'model.safetensors', MODEL));
    age(put(run, 'optimizer.pt', OPTIM));
    const cfg = runConfig(run, store, 5);
    const entries = await scanAll(run, store);
    const take = (dt: number) => captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() + dt }, quiet);
    const good = await take(0);
    const bad = await take(1000);
    replaceFile(path.join(bad.path, 'model.safetensors'), Buffer.alloc(MODEL.length, 1));
    await recordVerification(store, await verifySnapshot(store, bad), Date.now());
    expect((await newestGoodSnapshot(store))?.id).toBe(good.id);

    const next = await take(2000);
    expect(next.linked_bytes).toBe(MODEL.length + OPTIM.length);
    const ino = (meta: SnapshotMeta, rel: string): number => fs.statSync(path.join(meta.path, rel)).ino;
    expect(ino(next, 'model.safetensors')).toBe(ino(good, 'model.safetensors'));
    expect(ino(next, 'model.safetensors')).not.toBe(ino(bad, 'model.safetensors'));
    expect(verdict(await verifySnapshot(store, next)).ok).toBe(true);
  });

  it('keeps an older good backup when the newest is damaged, and does not count the damaged one toward keep', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'model.safetensors', MODEL));
    const cfg = runConfig(run, store, 1);
    const entries = await scanAll(run, store);
    const take = (dt: number) => captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() + dt }, quiet);
    const good = await take(0);
    const bad = await take(1000);
    fs.unlinkSync(path.join(bad.path, 'model.safetensors'));
    await recordVerification(store, await verifySnapshot(store, bad), Date.now());

    expect(await applyRetention(cfg, null, Date.now(), quiet)).toEqual([bad.id]);
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([good.id]);
    expect(fs.readdirSync(path.join(store, 'damaged'))).toEqual([]);
  });
});

describe('verifySave', () => {
  async function withSave(files: string[]) {
    const { base, run, store } = await runAndStore();
    age(put(run, 'model.safetensors', MODEL));
    age(put(run, 'adapter.bin', OPTIM));
    const save = await writeSave({
      store,
      saveTo: path.join(base, 'saves'),
      runName: 'r',
      prefix: 'exp-',
      files,
      from: null,
      runDir: run,
      entries: await scanAll(run, store),
      progress: NO_PROGRESS,
      trigger: 'test',
      now: Date.now(),
    });
    return { base, run, store, save };
  }

  const cases: { name: string; files: string[]; damage: (savePath: string) => void; expect: Partial<ReturnType<typeof verdict>> }[] = [
    { name: 'an intact single-file save', files: ['*.safetensors'], damage: () => {}, expect: { ok: true } },
    {
      name: 'a single-file save whose bytes changed',
      files: ['*.safetensors'],
      damage: (p) => {
        // Saves are read-only (0444): a user who changes one makes it writable first.
        fs.chmodSync(p, 0o644);
        fs.writeFileSync(p, Buffer.alloc(MODEL.length, 2));
      },
      expect: { ok: false, changed: [{ path: 'model.safetensors', reason: 'sha256 differs' }] },
    },
    { name: 'a single-file save moved away', files: ['*.safetensors'], damage: (p) => fs.unlinkSync(p), expect: { ok: false, missing: ['model.safetensors'] } },
    {
      name: 'a folder save with a file removed and one added',
      files: ['*.safetensors', '*.bin'],
      damage: (p) => {
        fs.unlinkSync(path.join(p, 'adapter.bin'));
        fs.writeFileSync(path.join(p, 'readme.txt'), 'hi');
      },
      expect: { ok: false, missing: ['adapter.bin'], extra: ['readme.txt'] },
    },
  ];

  it.each(cases)('checks $name', async ({ files, damage, expect: want }) => {
    const { store, save } = await withSave(files);
    damage(save.path);
    const r = await verifySave(store, save);
    expect(verdict(r)).toEqual({ ok: true, missing: [], changed: [], extra: [], ...want });
    await recordVerification(store, r, Date.now());
    expect((await listSaves(store))[0]!.damaged).toBe(!r.ok);
  });

  it('never exports from a damaged backup: the save is captured from the run instead', async () => {
    const { base, run, store } = await runAndStore();
    age(put(run, 'model.safetensors', MODEL));
    const entries = await scanAll(run, store);
    const backup = await snap(run, store);
    replaceFile(path.join(backup.path, 'model.safetensors'), Buffer.alloc(MODEL.length, 3));
    await recordVerification(store, await verifySnapshot(store, backup), Date.now());
    const from = await readSnapshot(store, backup.id);
    const save = await writeSave({
      store,
      saveTo: path.join(base, 'saves'),
      runName: 'r',
      prefix: '',
      files: ['*.safetensors'],
      from,
      runDir: run,
      entries,
      progress: NO_PROGRESS,
      trigger: 'test',
      now: Date.now() + 1000,
    });
    expect(save.from_snapshot).toBeNull();
    expect(sha256File(save.path)).toBe(sha256File(path.join(run, 'model.safetensors')));
    expect(verdict(await verifySave(store, save)).ok).toBe(true);
  });
});
