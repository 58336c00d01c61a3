import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { listSnapshots } from '../../src/store/read-store.js';
import { stateDigest } from '../../src/store/scan.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import { writeSnapshot } from '../../src/store/write-snapshot.js';
import { runUnprivileged } from '../helpers/unprivileged.js';
import { age, put, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

function stored(meta: SnapshotMeta, rel: string): string {
  return path.join(meta.path, rel);
}

describe('writeSnapshot', () => {
  it('writes the layout, snapshot.json with every field, read-only files and correct hashes', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.safetensors', 'weights');
    put(run, 'sub/dir/optimizer.pt', 'optim');
    const exe = put(run, 'run.sh', '#!/bin/sh\n');
    fs.chmodSync(exe, 0o750);
    fs.symlinkSync('model.safetensors', path.join(run, 'latest'));
    const entries = await scanAll(run, store);
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const meta = await writeSnapshot({
      store,
      runName: 'my-run',
      runDir: run,
      entries,
      kind: 'manual',
      trigger: 'manual',
      name: 'first',
      notes: 'hello',
      pinned: true,
      progress: { epoch: 3, step: 300, loss: 0.5, metrics: { eval_loss: 0.7 }, source: 'test' },
      modelType: 'llama',
      previous: null,
      now,
      settleMs: 0,
    });

    expect(meta.path).toBe(path.join(store, 'snapshots', meta.id, 'files'));
    expect(meta.created).toBe('2026-01-02T03:04:05.006Z');
    expect(meta.id.startsWith('20260102-030405-006-')).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', meta.id, 'snapshot.json'), 'utf8')) as SnapshotMeta;
    expect(onDisk).toEqual(meta);
    expect(onDisk).toMatchObject({
      run: 'my-run',
      kind: 'manual',
      name: 'first',
      notes: 'hello',
      pinned: true,
      trigger: 'manual',
      epoch: 3,
      step: 300,
      loss: 0.5,
      metrics: { eval_loss: 0.7 },
      model_type: 'llama',
      skipped: [],
      format: 1,
      state_digest: stateDigest(entries),
    });
    expect(meta.files.map((f) => f.path)).toEqual(['latest', 'model.safetensors', 'run.sh', 'sub/dir/optimizer.pt']);
    expect(meta.bytes).toBe(meta.files.reduce((n, f) => n + f.size, 0));
    expect(meta.copied_bytes).toBe('weights'.length + 'optim'.length + '#!/bin/sh\n'.length);
    expect(meta.linked_bytes).toBe(0);

    for (const f of meta.files) {
      const p = stored(meta, f.path);
      if (f.type === 'symlink') {
        expect(fs.readlinkSync(p)).toBe('model.safetensors');
        expect(f.target).toBe('model.safetensors');
        expect(f.sha256).toBe(sha256('model.safetensors'));
        continue;
      }
      expect(sha256File(p)).toBe(f.sha256);
      expect(fs.readFileSync(p)).toEqual(fs.readFileSync(path.join(run, f.path)));
    }
    expect(fs.statSync(stored(meta, 'model.safetensors')).mode & 0o777).toBe(0o444);
    expect(fs.statSync(stored(meta, 'run.sh')).mode & 0o777).toBe(0o550);
    expect(meta.files.find((f) => f.path === 'run.sh')!.mode).toBe(0o750);
    expect(fs.statSync(stored(meta, 'sub/dir')).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(path.join(store, '.staging'))).toEqual([]);
  });

  it('hard-links unchanged files from the previous snapshot and copies changed ones', async () => {
    const { run, store } = await runAndStore();
    put(run, 'frozen.bin', 'frozen bytes');
    const w = put(run, 'weights.bin', 'generation 1');
    age(w);
    const first = await snap(run, store);
    fs.writeFileSync(w, 'generation 2!');
    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });

    expect(fs.statSync(stored(second, 'frozen.bin')).ino).toBe(fs.statSync(stored(first, 'frozen.bin')).ino);
    expect(fs.statSync(stored(second, 'weights.bin')).ino).not.toBe(fs.statSync(stored(first, 'weights.bin')).ino);
    expect(fs.readFileSync(stored(first, 'weights.bin'), 'utf8')).toBe('generation 1');
    expect(fs.readFileSync(stored(second, 'weights.bin'), 'utf8')).toBe('generation 2!');
    expect(second.linked_bytes).toBe('frozen bytes'.length);
    expect(second.copied_bytes).toBe('generation 2!'.length);
    for (const f of second.files) expect(sha256File(stored(second, f.path))).toBe(f.sha256);
  });

  it("writes a linked file's entry exactly as the previous snapshot.json holds it, whatever key order the previous manifest came in", async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'frozen.bin', 'frozen'));
    const first = await snap(run, store);
    const entriesText = (m: SnapshotMeta): string => {
      const text = fs.readFileSync(path.join(store, 'snapshots', m.id, 'snapshot.json'), 'utf8');
      return text.slice(text.indexOf('"files"'), text.indexOf('"state_digest"'));
    };
    const linked = await snap(run, store, { previous: first, now: Date.now() + 1000 });
    expect(linked.linked_bytes).toBe('frozen'.length);
    expect(entriesText(linked)).toBe(entriesText(first));

    // The same entries with their keys in another order (as another writer may have left them).
    const reordered = { ...first, files: first.files.map(({ ctime_ns, ino, ...f }) => ({ ctime_ns, ino, ...f })) };
    const again = await snap(run, store, { previous: reordered, now: Date.now() + 2000 });
    expect(again.linked_bytes).toBe('frozen'.length);
    expect(entriesText(again)).toBe(entriesText(first));
  });

  it('copies a file rewritten with the same size and mtime (cp -p, touch -r): its inode and ctime tell', async () => {
    const { run, store } = await runAndStore();
    const w = put(run, 'weights.bin', 'generation 1');
    age(w);
    const first = await snap(run, store);
    const before = fs.statSync(w, { bigint: true });
    // Outside the run: a reference keeping generation 1's mtime to the nanosecond, as `touch -r` uses.
    const ref = path.join(path.dirname(run), 'ref');
    execFileSync('cp', ['-p', w, ref]);
    fs.writeFileSync(w, 'generation 2');
    execFileSync('touch', ['-r', ref, w]);
    expect(fs.statSync(w, { bigint: true }).mtimeNs).toBe(before.mtimeNs);
    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });

    expect(fs.readFileSync(stored(second, 'weights.bin'), 'utf8')).toBe('generation 2');
    expect(second.files[0]!.sha256).toBe(sha256('generation 2'));
    expect(second.files[0]!.sha256).not.toBe(first.files[0]!.sha256);
    expect(second.linked_bytes).toBe(0);
  });

  it('records the source inode and ctime, and never links from a manifest without them', async () => {
    const { run, store } = await runAndStore();
    const w = put(run, 'weights.bin', 'frozen');
    age(w);
    const first = await snap(run, store);
    const st = fs.statSync(w, { bigint: true });
    expect(first.files[0]).toMatchObject({ ino: Number(st.ino), ctime_ns: st.ctimeNs.toString() });
    const linked = await snap(run, store, { previous: first, now: Date.now() + 1000 });
    expect(linked.linked_bytes).toBe('frozen'.length);

    const older = { ...first, files: first.files.map(({ ino: _i, ctime_ns: _c, ...f }) => f) };
    const copied = await snap(run, store, { previous: older, now: Date.now() + 2000 });
    expect(copied.linked_bytes).toBe(0);
    expect(fs.statSync(stored(copied, 'weights.bin')).ino).not.toBe(fs.statSync(stored(first, 'weights.bin')).ino);
  });

  it('stores files read-only, keeping the source read bits: 0600 -> 0400, 0644 -> 0444, 0750 -> 0550, 0755 -> 0555', async () => {
    const { run, store } = await runAndStore();
    const modes = { 'secret.pt': 0o600, 'open.pt': 0o644, 'group.sh': 0o750, 'all.sh': 0o755 } as const;
    for (const [rel, mode] of Object.entries(modes)) fs.chmodSync(put(run, rel, rel), mode);
    const meta = await snap(run, store);
    const want = { 'secret.pt': 0o400, 'open.pt': 0o444, 'group.sh': 0o550, 'all.sh': 0o555 } as const;
    for (const [rel, mode] of Object.entries(want)) {
      expect((fs.statSync(stored(meta, rel)).mode & 0o777).toString(8), rel).toBe(mode.toString(8));
      expect(meta.files.find((f) => f.path === rel)!.mode).toBe(modes[rel as keyof typeof modes]);
    }
  });

  it('copies instead of linking when the previous stored file is gone', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a.bin', 'aaaa');
    const first = await snap(run, store);
    fs.rmSync(stored(first, 'a.bin'));
    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });
    expect(second.linked_bytes).toBe(0);
    expect(fs.readFileSync(stored(second, 'a.bin'), 'utf8')).toBe('aaaa');
  });

  it('captures again a file that changed after it was captured, as one generation', async () => {
    const { run, store } = await runAndStore();
    const a = put(run, 'a.json', '{"step":1}');
    put(run, 'b.bin', Buffer.alloc(20 << 20, 7));
    age(a);
    const entries = await scanAll(run, store);
    let changed = false;
    const meta = await writeSnapshot({
      store,
      runName: 'r',
      runDir: run,
      entries,
      kind: 'backup',
      trigger: 't',
      progress: NO_PROGRESS,
      previous: null,
      now: Date.now(),
      retryDelayMs: 5,
      settleMs: 0,
      onProgress: () => {
        const staging = path.join(store, '.staging');
        const [id] = fs.readdirSync(staging);
        if (changed || id === undefined) return;
        // Change a.json only once its old version is wholly staged (made read-only after its own
        // checks passed): only the final re-check of every source can see the change.
        const st = fs.statSync(path.join(staging, id, 'files', 'a.json'), { throwIfNoEntry: false });
        if (st === undefined || (st.mode & 0o777) !== 0o444) return;
        changed = true;
        fs.writeFileSync(a, '{"step":2, "more": true}');
      },
    });
    expect(changed).toBe(true);
    expect(meta.skipped).toEqual([]);
    expect(fs.readFileSync(stored(meta, 'a.json'), 'utf8')).toBe('{"step":2, "more": true}');
    expect(meta.files.find((f) => f.path === 'a.json')!.sha256).toBe(sha256('{"step":2, "more": true}'));
    expect(meta.state_digest).toBe(stateDigest(await scanAll(run, store)));
  });

  it('skips a file that keeps changing, and records it', async () => {
    const { run, store } = await runAndStore();
    const busy = put(run, 'busy.log', 'x');
    put(run, 'calm.bin', 'calm');
    const entries = await scanAll(run, store);
    const meta = await writeSnapshot({
      store,
      runName: 'r',
      runDir: run,
      entries,
      kind: 'backup',
      trigger: 't',
      progress: NO_PROGRESS,
      previous: null,
      now: Date.now(),
      retries: 2,
      retryDelayMs: 5,
      settleMs: 0,
      onProgress: () => fs.appendFileSync(busy, 'x'),
    });
    expect(meta.skipped).toEqual([{ path: 'busy.log', reason: expect.stringMatching(/kept changing/) as unknown as string }]);
    expect(meta.files.map((f) => f.path)).toEqual(['calm.bin']);
    expect(fs.existsSync(stored(meta, 'busy.log'))).toBe(false);
  });

  it('leaves out a file that vanished and records it', async () => {
    const { run, store } = await runAndStore();
    const gone = put(run, 'gone.bin', 'g');
    put(run, 'here.bin', 'h');
    const entries = await scanAll(run, store);
    fs.rmSync(gone);
    const meta = await snap(run, store, { entries });
    expect(meta.skipped).toEqual([{ path: 'gone.bin', reason: 'vanished' }]);
    expect(meta.files.map((f) => f.path)).toEqual(['here.bin']);
  });

  it('leaves no visible snapshot and no staging when it fails mid-way', async () => {
    const { run, store } = await runAndStore();
    for (let i = 0; i < 5; i++) put(run, `f${i}.bin`, `file ${i}`);
    let calls = 0;
    await expect(
      snap(run, store, {
        onProgress: () => {
          if (++calls === 2) throw new Error('injected failure');
        },
      }),
    ).rejects.toThrow('injected failure');
    expect(await listSnapshots(store)).toEqual([]);
    expect(fs.readdirSync(path.join(store, 'snapshots'))).toEqual([]);
    expect(fs.readdirSync(path.join(store, '.staging'))).toEqual([]);
  });

  it('fails on an unreadable source, naming it, and leaves no snapshot', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a.bin', 'a');
    const locked = put(run, 'b.bin', 'b');
    const got = runUnprivileged(
      `import fs from 'node:fs';
      import { scanState } from 'DIST/src/store/scan.js';
      import { writeSnapshot } from 'DIST/src/store/write-snapshot.js';
      import { NO_PROGRESS } from 'DIST/src/policy/types.js';
      fs.chmodSync(${JSON.stringify(locked)}, 0o000);
      const entries = await scanState(${JSON.stringify(run)}, { include: ['**/*'], exclude: [], excludeAbs: [${JSON.stringify(store)}] });
      const err = await writeSnapshot({ store: ${JSON.stringify(store)}, runName: 'r', runDir: ${JSON.stringify(run)}, entries, kind: 'backup', trigger: 'test', progress: NO_PROGRESS, previous: null, now: Date.now(), settleMs: 0 }).then(() => null, (e) => e.message);
      console.log(JSON.stringify({ err }));`,
    ) as { err: string | null };
    expect(got.err).toContain(locked);
    expect(await listSnapshots(store)).toEqual([]);
    expect(fs.readdirSync(path.join(store, '.staging'))).toEqual([]);
  });

  it('refuses entries whose path would leave the snapshot folder', async () => {
    const { run, store } = await runAndStore();
    put(run, 'ok.bin', 'ok');
    const entries = await scanAll(run, store);
    await expect(snap(run, store, { entries: [...entries, { ...entries[0]!, path: '../escape.bin' }] })).rejects.toThrow(/unsafe path/);
    expect(fs.existsSync(path.join(store, 'snapshots', '..', 'escape.bin'))).toBe(false);
    expect(fs.readdirSync(path.join(store, 'snapshots'))).toEqual([]);
    expect(fs.readdirSync(path.join(store, '.staging'))).toEqual([]);
  });

  it('gives each snapshot a new id that sorts after the previous one', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const t = Date.now();
    const one = await snap(run, store, { now: t });
    const two = await snap(run, store, { now: t - 5000 });
    expect(two.id > one.id).toBe(true);
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([two.id, one.id]);
  });
});
