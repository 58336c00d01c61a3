import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { findBroken, listSaves, listSnapshotHeaders, listSnapshots, readSnapshot, resolveId } from '../../src/store/read-store.js';
import type { SaveMeta } from '../../src/store/types.js';
import { put, runAndStore, snap, tempDir } from './fixtures.js';

describe('listSnapshots', () => {
  it('lists snapshots newest first and ignores folders without a valid snapshot.json', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const t = Date.now();
    const one = await snap(run, store, { now: t });
    const two = await snap(run, store, { now: t + 1000 });
    fs.mkdirSync(path.join(store, 'snapshots', '20990101-000000-000-dead', 'files'), { recursive: true });
    fs.mkdirSync(path.join(store, 'snapshots', '20990101-000000-000-beef'));
    fs.writeFileSync(path.join(store, 'snapshots', '20990101-000000-000-beef', 'snapshot.json'), '{not json');
    fs.mkdirSync(path.join(store, 'snapshots', 'Not An Id'));

    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([two.id, one.id]);
    const broken = await findBroken(store);
    expect(broken.map((b) => path.basename(b.path)).sort()).toEqual(['20990101-000000-000-beef', '20990101-000000-000-dead', 'Not An Id']);
    expect(broken.find((b) => b.path.endsWith('beef'))!.problem).toMatch(/not valid JSON/);
  });

  it('a snapshot.json naming an unsafe path or a malformed sha256 is not a snapshot', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const good = await snap(run, store);
    const tamper = (id: string, change: (f: Record<string, unknown>) => void): void => {
      const dir = path.join(store, 'snapshots', id);
      fs.cpSync(path.join(store, 'snapshots', good.id), dir, { recursive: true });
      const file = path.join(dir, 'snapshot.json');
      const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as { id: string; files: Record<string, unknown>[] };
      meta.id = id;
      change(meta.files[0]!);
      fs.chmodSync(file, 0o600);
      fs.writeFileSync(file, JSON.stringify(meta));
    };
    tamper('20990101-000000-000-aaaa', (f) => (f.path = '../../etc/passwd'));
    tamper('20990101-000000-000-bbbb', (f) => (f.sha256 = '../../blobs/x'));
    tamper('20990101-000000-000-cccc', (f) => (f.size = -1));
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([good.id]);
    const problems = Object.fromEntries((await findBroken(store)).map((b) => [path.basename(b.path), b.problem]));
    expect(problems['20990101-000000-000-aaaa']).toMatch(/unsafe path "..\/..\/etc\/passwd"/);
    expect(problems['20990101-000000-000-bbbb']).toMatch(/a has no valid sha256/);
    expect(problems['20990101-000000-000-cccc']).toMatch(/a has no valid size/);
  });

  it('recomputes path from where the store is now', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'a', 'a');
    const meta = await snap(run, store);
    const moved = path.join(base, 'moved-store');
    fs.renameSync(store, moved);
    const [again] = await listSnapshots(moved);
    expect(again!.path).toBe(path.join(moved, 'snapshots', meta.id, 'files'));
    expect((await readSnapshot(moved, meta.id)).path).toBe(again!.path);
  });

  it('returns nothing for an empty or missing store', async () => {
    const dir = await tempDir();
    expect(await listSnapshots(path.join(dir, 'none'))).toEqual([]);
    expect(await listSnapshotHeaders(path.join(dir, 'none'))).toEqual([]);
    expect(await listSaves(path.join(dir, 'none'))).toEqual([]);
  });
});

describe('listSnapshotHeaders', () => {
  it('lists the same snapshots as listSnapshots, without their files, leaving out one with a bad entry', async () => {
    const { run, store } = await runAndStore();
    for (let i = 0; i < 30; i++) put(run, `d/f${i}.json`, `${i}`);
    const t = Date.now();
    const one = await snap(run, store, { now: t });
    const two = await snap(run, store, { now: t + 1000, previous: one });
    // A copy of `two` whose last entry has an unsafe path: not a snapshot for either reader.
    const bad = '20990101-000000-000-bad0';
    fs.cpSync(path.join(store, 'snapshots', two.id), path.join(store, 'snapshots', bad), { recursive: true });
    const file = path.join(store, 'snapshots', bad, 'snapshot.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as { id: string; files: { path: string }[] };
    meta.id = bad;
    meta.files.at(-1)!.path = '../escape';
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, JSON.stringify(meta, null, 2));

    const full = await listSnapshots(store);
    expect(full.map((s) => s.id)).toEqual([two.id, one.id]);
    expect(await listSnapshotHeaders(store)).toEqual(full.map(({ files: _files, ...header }) => header));
  });
});

function fakeSave(store: string, id: string): SaveMeta {
  const meta: SaveMeta = {
    id,
    run: 'r',
    kind: 'save',
    name: null,
    notes: null,
    pinned: false,
    created: new Date().toISOString(),
    trigger: 't',
    ...NO_PROGRESS,
    model_type: null,
    bytes: 0,
    path: path.join(store, 'saves', `r-${id}.pt`),
    files: [],
    from_snapshot: null,
    format: 1,
  };
  delete (meta as unknown as Record<string, unknown>).source;
  fs.mkdirSync(path.join(store, 'save-records'), { recursive: true });
  fs.writeFileSync(path.join(store, 'save-records', `${id}.json`), JSON.stringify(meta));
  return meta;
}

describe('resolveId', () => {
  it('finds exact ids and unique prefixes across snapshots and saves', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const s = await snap(run, store, { now: Date.UTC(2026, 0, 1) });
    fakeSave(store, '20270101-000000-000-abcd');
    expect((await resolveId(store, s.id)).id).toBe(s.id);
    expect((await resolveId(store, '2026')).id).toBe(s.id);
    expect((await resolveId(store, '2027')).kind).toBe('save');
    expect((await resolveId(store, '20270101-000000-000-abcd')).kind).toBe('save');
    // Matched by a prefix among the headers, then read in full: the manifest is there.
    expect((await resolveId(store, '2026')).files.map((f) => f.path)).toEqual(['a']);
    expect((await listSaves(store)).map((x) => x.id)).toEqual(['20270101-000000-000-abcd']);
  });

  it('lists the candidates when a prefix is ambiguous, and says when nothing matches', async () => {
    const { store } = await runAndStore();
    fakeSave(store, '20270101-000000-000-abcd');
    fakeSave(store, '20270101-000000-000-abce');
    await expect(resolveId(store, '2027')).rejects.toThrow(/ambiguous.*20270101-000000-000-abcd.*20270101-000000-000-abce/);
    await expect(resolveId(store, '1999')).rejects.toThrow(/no snapshot or save matches/);
  });

  it('rejects hostile ids before touching the disk', async () => {
    // A store path that does not exist: only validation can answer.
    const store = '/nonexistent/ckptd-store';
    for (const bad of ['', '../x', '/etc', 'a/b', 'x\0y', '..']) {
      await expect(resolveId(store, bad)).rejects.toThrow(/invalid id/);
    }
  });
});
