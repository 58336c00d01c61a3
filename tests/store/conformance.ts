/**
 * The conformance suite of the `Store` interface (src/store/store.ts): every implementation runs
 * it (the local store, the fault-injecting wrapper, the remote store of SPEC section 8). It knows
 * nothing of any layout: what it cannot do through the interface (change a stored byte, list the
 * invisible leftovers of interrupted work) the harness does for it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KnownBefore } from '../../src/policy/emptied-file.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { scanState } from '../../src/store/scan.js';
import type { StageSnapshotOptions, Store, StoreRecord } from '../../src/store/store.js';
import type { RecordMeta, SaveMeta, SnapshotMeta } from '../../src/store/types.js';
import { faultyStore, InjectedFault, type Fault, type StoreStep } from '../helpers/faulty-store.js';

export interface StoreHarness {
  /** The store under test, empty. */
  store: Store;
  /** A new instance on the same backing store, as a restarted process opens it. */
  reopen(): Store;
  /** A run folder the test writes files into (outside the store). */
  runDir: string;
  /** The folder saves are exported to. */
  saveTo: string;
  /** Changes one byte of the stored file `relPath` of `record`, keeping its size. */
  corrupt(record: RecordMeta, relPath: string): Promise<void>;
  /** What interrupted work left in the store (invisible): empty once `sweep` ran. */
  leftovers(): Promise<string[]>;
}

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

export function describeStore(name: string, make: () => Promise<StoreHarness>): void {
  describe(`Store conformance: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    beforeEach(async () => {
      h = await make();
      store = h.store;
      put(h.runDir, 'model.safetensors', 'weights v1');
      put(h.runDir, 'opt/state.bin', 'optimizer');
    });

    const stageOpts = async (now: number, extra: Partial<StageSnapshotOptions> = {}, at: StoreHarness = h): Promise<StageSnapshotOptions> => ({
      runName: 'r',
      runDir: at.runDir,
      entries: await scanState(at.runDir, { include: ['**/*'], exclude: [], excludeAbs: [] }),
      kind: 'backup',
      trigger: 'test',
      progress: NO_PROGRESS,
      previous: null,
      now,
      settleMs: 0,
      ...extra,
    });
    const snapshot = async (s: Store, now: number, extra: Partial<StageSnapshotOptions> = {}, at: StoreHarness = h): Promise<SnapshotMeta> =>
      (await s.stageSnapshot(await stageOpts(now, extra, at))).commit();
    const save = async (s: Store, now: number, at: StoreHarness = h): Promise<SaveMeta> =>
      s.commitSave({
        saveTo: at.saveTo,
        runName: 'r',
        prefix: '',
        files: ['*.safetensors'],
        from: null,
        runDir: at.runDir,
        entries: await scanState(at.runDir, { include: ['**/*'], exclude: [], excludeAbs: [] }),
        progress: { ...NO_PROGRESS, epoch: 1, step: 10 },
        trigger: 'test',
        now,
      });
    const ids = async (s: Store): Promise<string[]> => [...(await s.listSnapshots()), ...(await s.listSaves())].map((r) => r.id);

    describe('records', () => {
      it('a committed snapshot is listed and readable with identical metadata and bytes', async () => {
        const meta = await snapshot(store, T0, { name: 'first', notes: 'n', pinned: true });
        const listed = await store.listSnapshots();
        expect(listed).toEqual([{ ...meta, damaged: false, incomplete: false }]);
        expect(await store.resolve(meta.id)).toEqual(listed[0]);
        expect(meta.files.map((f) => f.path).sort()).toEqual(['model.safetensors', 'opt/state.bin']);
        expect(await text(await store.openFile(meta, 'model.safetensors'))).toBe('weights v1');
        expect(await text(await store.openFile(meta, 'opt/state.bin'))).toBe('optimizer');
        await expect(store.openFile(meta, 'not/there')).rejects.toThrow(/holds no file/);
        expect(await store.newestGood()).toEqual(listed[0]);
        expect(await store.findBroken()).toEqual([]);
      });

      it('copyFileOut writes a stored file to a new file with its hash; readLink gives a stored link', async () => {
        fs.symlinkSync('model.safetensors', path.join(h.runDir, 'latest'));
        const meta = await snapshot(store, T0);
        const out = fs.mkdtempSync(path.join(path.dirname(h.runDir), 'out-'));
        const seen: number[] = [];
        const copy = await store.copyFileOut(meta, 'opt/state.bin', path.join(out, 'a'), { mode: 0o600, onBytes: (n) => seen.push(n) });
        const entry = meta.files.find((f) => f.path === 'opt/state.bin')!;
        expect(copy).toEqual({ sha256: entry.sha256, size: 9 });
        expect(fs.readFileSync(path.join(out, 'a'), 'utf8')).toBe('optimizer');
        expect(fs.statSync(path.join(out, 'a')).mode & 0o777).toBe(0o600);
        expect(seen.reduce((a, b) => a + b, 0)).toBe(9);
        // A new file only: an existing one is never written over.
        fs.writeFileSync(path.join(out, 'b'), 'mine');
        await expect(store.copyFileOut(meta, 'opt/state.bin', path.join(out, 'b'), { mode: 0o600 })).rejects.toThrow();
        expect(fs.readFileSync(path.join(out, 'b'), 'utf8')).toBe('mine');
        await expect(store.copyFileOut(meta, 'not/there', path.join(out, 'c'), { mode: 0o600 })).rejects.toThrow(/holds no file/);
        await expect(store.copyFileOut(meta, 'latest', path.join(out, 'c'), { mode: 0o600 })).rejects.toThrow(/is a symlink/);
        expect(await store.readLink(meta, 'latest')).toBe('model.safetensors');
        await expect(store.readLink(meta, 'model.safetensors')).rejects.toThrow(/not a symlink/);
        // A stored byte changed: the copy reports the hash of what it wrote, the caller compares.
        await h.corrupt(meta, 'opt/state.bin');
        const bad = await store.copyFileOut(meta, 'opt/state.bin', path.join(out, 'd'), { mode: 0o600 });
        expect(bad.size).toBe(9);
        expect(bad.sha256).not.toBe(entry.sha256);
      });

      it('importSnapshot copies a snapshot of another store under its id and labels, checked, all or nothing', async () => {
        const other = await make();
        put(other.runDir, 'model.safetensors', 'weights v1');
        put(other.runDir, 'opt/state.bin', 'optimizer');
        fs.symlinkSync('model.safetensors', path.join(other.runDir, 'latest'));
        const source = await snapshot(other.store, T0, { name: 'good', notes: 'n', pinned: true }, other);
        const seen: number[] = [];
        const imported = await store.importSnapshot(other.store, source, { onBytes: (n) => seen.push(n) });
        expect(imported).toMatchObject({ id: source.id, name: 'good', notes: 'n', pinned: true, kind: 'backup', created: source.created });
        expect(seen.reduce((a, b) => a + b, 0)).toBe('weights v1'.length + 'optimizer'.length);
        const listed = await store.resolve(source.id);
        expect(listed.files.map((f) => `${f.path}:${f.sha256}`)).toEqual(source.files.map((f) => `${f.path}:${f.sha256}`));
        expect(await text(await store.openFile(listed, 'opt/state.bin'))).toBe('optimizer');
        expect(await store.readLink(listed, 'latest')).toBe('model.safetensors');
        expect((await store.verify(listed)).ok).toBe(true);
        await expect(store.importSnapshot(other.store, source)).rejects.toThrow(/already/);

        const second = await snapshot(other.store, T0 + 1, {}, other);
        await other.corrupt(second, 'opt/state.bin');
        await expect(store.importSnapshot(other.store, second)).rejects.toThrow(/damaged/);
        expect((await store.listSnapshots()).map((r) => r.id)).toEqual([source.id]);
        expect(await h.leftovers()).toEqual([]);
      });

      it('a committed save is listed and readable with identical metadata and bytes', async () => {
        const meta = await save(store, T0);
        expect(await store.listSaves()).toEqual([{ ...meta, damaged: false }]);
        expect(await store.resolve(meta.id)).toEqual({ ...meta, damaged: false });
        expect(await text(await store.openFile(meta, 'model.safetensors'))).toBe('weights v1');
        expect(await store.listSnapshots()).toEqual([]);
      });

      it('ids are unique and sort by time; lists are newest first', async () => {
        const a = await snapshot(store, T0);
        const b = await snapshot(store, T0);
        const c = await save(store, T0);
        const d = await snapshot(store, T0 + 1000);
        const all = [a.id, b.id, c.id, d.id];
        expect(new Set(all).size).toBe(4);
        expect([...all].sort()).toEqual(all);
        expect((await store.listSnapshots()).map((s) => s.id)).toEqual([d.id, b.id, a.id]);
        // The headers are the same snapshots, in the same order, without their files.
        expect(await store.listSnapshotHeaders()).toEqual((await store.listSnapshots()).map(({ files: _files, ...header }) => header));
      });

      it('resolves a unique prefix, and names the candidates of an ambiguous one', async () => {
        const a = await snapshot(store, T0);
        const b = await snapshot(store, T0 + 1);
        expect((await store.resolve(a.id.slice(0, -1))).id).toBe(a.id);
        await expect(store.resolve('2026')).rejects.toThrow(new RegExp(`ambiguous.*${a.id}.*${b.id}`));
        await expect(store.resolve('1999')).rejects.toThrow(/no snapshot or save matches/);
        await expect(store.resolve('../x')).rejects.toThrow(/invalid id/);
      });
    });

    describe('stage and commit', () => {
      it('a staged snapshot is invisible until committed, and a commit happens once', async () => {
        const staged = await store.stageSnapshot(await stageOpts(T0));
        expect(await ids(store)).toEqual([]);
        expect(await store.newestGood()).toBeNull();
        expect(await store.newestGoodHeader()).toBeNull();
        const meta = await staged.commit();
        expect(meta).toEqual(staged.meta);
        expect(await ids(store)).toEqual([meta.id]);
        await expect(staged.commit()).rejects.toThrow();
        expect(await h.leftovers()).toEqual([]);
      });

      it('an abandoned snapshot leaves nothing, visible or not', async () => {
        const staged = await store.stageSnapshot(await stageOpts(T0));
        await staged.abandon();
        await staged.abandon();
        expect(await ids(store)).toEqual([]);
        expect(await h.leftovers()).toEqual([]);
      });

      it('a snapshot left staged by a dead process is invisible, and sweep removes it', async () => {
        const kept = await snapshot(store, T0);
        await store.stageSnapshot(await stageOpts(T0 + 1));
        const after = h.reopen();
        expect(await ids(after)).toEqual([kept.id]);
        expect(await h.leftovers()).not.toEqual([]);
        await after.sweep([h.saveTo]);
        expect(await h.leftovers()).toEqual([]);
        expect(await ids(after)).toEqual([kept.id]);
      });

      it('keeps what the options ask: previous shared, labels read from the capture, never-settled and left-out names recorded', async () => {
        const first = await snapshot(store, T0);
        put(h.runDir, 'opt/state.bin', 'optimizer v2');
        const second = await snapshot(store, T0 + 1, {
          previous: first,
          label: async (_filesDir, captured) => ({ progress: { ...NO_PROGRESS, epoch: 2, step: captured.length }, modelType: 'llm' }),
          leftOut: [{ path: 'bad-name', reason: 'not UTF-8' }],
        });
        expect(second).toMatchObject({ epoch: 2, step: 2, model_type: 'llm', left_out: [{ path: 'bad-name', reason: 'not UTF-8' }], skipped: [] });
        expect(second.linked_bytes).toBe('weights v1'.length);
        expect(second.copied_bytes).toBe('optimizer v2'.length);
        expect(await text(await store.openFile(second, 'model.safetensors'))).toBe('weights v1');
        expect(await text(await store.openFile(second, 'opt/state.bin'))).toBe('optimizer v2');
        expect(await store.resolve(second.id)).toMatchObject({ epoch: 2, step: 2, model_type: 'llm', incomplete: false });

        const entries = (await stageOpts(T0 + 2)).entries.filter((e) => e.path !== 'opt/state.bin');
        const third = await snapshot(store, T0 + 2, { previous: second, entries, neverSettled: [{ path: 'opt/state.bin', reason: 'never settles' }] });
        expect(third.skipped).toEqual([{ path: 'opt/state.bin', reason: 'never settles' }]);
        expect(third.files.map((f) => f.path)).toEqual(['model.safetensors']);
        expect(await store.resolve(third.id)).toMatchObject({ incomplete: true });
        expect(await store.newestGood()).toMatchObject({ id: second.id });
      });

      it('lastKnown: what the newest snapshot and the newest good one knew of a few files', async () => {
        const nothing: KnownBefore = { size: null, leftOut: false };
        expect(await store.lastKnown(['model.safetensors'])).toEqual(new Map([['model.safetensors', nothing]]));
        const first = await snapshot(store, T0);
        put(h.runDir, 'ckpt.pt', 'ckpt bytes');
        const entries = (await stageOpts(T0 + 1)).entries.filter((e) => e.path !== 'opt/state.bin');
        await snapshot(store, T0 + 1, { previous: first, entries, neverSettled: [{ path: 'opt/state.bin', reason: 'never settles' }] });
        // Only the newer, incomplete snapshot held ckpt.pt; it left opt/state.bin out, the good one held it.
        expect(await store.lastKnown(['ckpt.pt', 'opt/state.bin', 'model.safetensors', 'never.bin'])).toEqual(
          new Map([
            ['ckpt.pt', { size: 10, leftOut: false }],
            ['opt/state.bin', { size: 9, leftOut: true }],
            ['model.safetensors', { size: 10, leftOut: false }],
            ['never.bin', nothing],
          ]),
        );
        // ckpt.pt deleted since: a newer snapshot without it, incomplete, then a complete one. What
        // the older ones knew no longer counts (an empty ckpt.pt now is a new file).
        fs.rmSync(path.join(h.runDir, 'ckpt.pt'));
        await snapshot(store, T0 + 2, { previous: first, entries: (await stageOpts(T0 + 2)).entries.filter((e) => e.path !== 'opt/state.bin'), neverSettled: [{ path: 'opt/state.bin', reason: 'never settles' }] });
        expect(await store.lastKnown(['ckpt.pt'])).toEqual(new Map([['ckpt.pt', nothing]]));
        await snapshot(store, T0 + 3);
        expect(await h.reopen().lastKnown(['ckpt.pt', 'opt/state.bin'])).toEqual(
          new Map([
            ['ckpt.pt', nothing],
            ['opt/state.bin', { size: 9, leftOut: false }],
          ]),
        );
      });

      it('a failed staging leaves nothing', async () => {
        const opts = await stageOpts(T0, {
          label: () => Promise.reject(new Error('labels failed')),
        });
        await expect(store.stageSnapshot(opts)).rejects.toThrow('labels failed');
        expect(await ids(store)).toEqual([]);
        expect(await h.leftovers()).toEqual([]);
      });
    });

    describe('labels', () => {
      it('name, notes and pin round-trip on snapshots and saves; nothing else changes', async () => {
        const s = await snapshot(store, T0);
        const v = await save(store, T0 + 1);
        for (const r of [s, v]) {
          const before = await store.resolve(r.id);
          const after = await store.updateLabels(r.id.slice(0, -1), { name: 'best', notes: 'keep this', pinned: true });
          expect(after).toEqual({ ...before, name: 'best', notes: 'keep this', pinned: true });
          expect(await store.resolve(r.id)).toEqual(after);
          const cleared = await store.updateLabels(r.id, { name: null, pinned: false });
          expect(cleared).toEqual({ ...before, notes: 'keep this' });
        }
        await expect(store.updateLabels('1999', { name: 'x' })).rejects.toThrow(/no snapshot or save matches/);
      });
    });

    describe('remove', () => {
      it('removes the record named and leaves the rest; refuses what the guard refuses', async () => {
        const a = await snapshot(store, T0);
        const b = await snapshot(store, T0 + 1, { pinned: true });
        const v = await save(store, T0 + 2);
        const noPinned = (m: { pinned: boolean }): string | null => (m.pinned ? 'it is pinned' : null);
        await expect(store.remove(b.id, { guard: noPinned })).rejects.toThrow(`refusing to delete snapshot ${b.id}: it is pinned`);
        expect(await ids(store)).toEqual([b.id, a.id, v.id]);
        await store.remove(a.id, { guard: noPinned });
        expect(await ids(store)).toEqual([b.id, v.id]);
        // What survives is whole: the removed snapshot shared nothing it could take with it.
        expect(await text(await store.openFile(b, 'model.safetensors'))).toBe('weights v1');
        expect((await store.verify(await store.resolve(b.id))).ok).toBe(true);
        const res = await store.remove(v.id, { saveTo: h.saveTo });
        expect(res.kept).toEqual([]);
        expect(await ids(store)).toEqual([b.id]);
        // Pinned is not refused by the store itself: that is the caller's guard.
        await store.remove(b.id);
        expect(await ids(store)).toEqual([]);
        expect(await h.leftovers()).toEqual([]);
      });

      it('refuses unknown and invalid ids, removing nothing', async () => {
        const a = await snapshot(store, T0);
        await expect(store.remove('20261123-100000-000-zzzz')).rejects.toThrow();
        await expect(store.remove('../x')).rejects.toThrow(/not a valid/);
        expect(await ids(store)).toEqual([a.id]);
      });

      it('with a kind, removes only a record of that kind, and names the kind when there is none', async () => {
        const a = await snapshot(store, T0);
        const v = await save(store, T0 + 1);
        await expect(store.remove(v.id, { kind: 'snapshot' })).rejects.toThrow(`no snapshot ${v.id} in ${store.location}`);
        await expect(store.remove(a.id, { kind: 'save', saveTo: h.saveTo })).rejects.toThrow();
        await expect(store.remove('20261123-100000-000-zzzz', { kind: 'snapshot' })).rejects.toThrow(`no snapshot 20261123-100000-000-zzzz in ${store.location}`);
        expect(await ids(store)).toEqual([a.id, v.id]);
        await store.remove(a.id, { kind: 'snapshot' });
        await store.remove(v.id, { kind: 'save', saveTo: h.saveTo });
        expect(await ids(store)).toEqual([]);
        expect(await h.leftovers()).toEqual([]);
      });
    });

    describe('verify and damage', () => {
      it('verify finds a changed byte; the mark excludes the snapshot from newestGood until it verifies clean', async () => {
        const older = await snapshot(store, T0);
        const newer = await snapshot(store, T0 + 1);
        expect(await store.newestGood()).toMatchObject({ id: newer.id });
        const clean = await store.verify(await store.resolve(newer.id));
        expect(clean).toMatchObject({ ok: true, missing: [], changed: [], extra: [] });

        const sig = await store.signature();
        await h.corrupt(newer, 'opt/state.bin');
        const bad = await store.verify(await store.resolve(newer.id));
        expect(bad.ok).toBe(false);
        expect(bad.changed.map((c) => c.path)).toEqual(['opt/state.bin']);
        expect(await store.markVerified(bad, T0 + 2)).toBe('marked');
        expect(await store.signature()).not.toBe(sig);
        expect(await store.resolve(newer.id)).toMatchObject({ damaged: true });
        expect((await store.listSnapshots()).map((s) => [s.id, s.damaged])).toEqual([
          [newer.id, true],
          [older.id, false],
        ]);
        expect(await store.newestGood()).toMatchObject({ id: older.id, damaged: false });
        const { files: _files, ...olderHeader } = (await store.newestGood())!;
        expect(await store.newestGoodHeader()).toEqual(olderHeader);

        expect(await store.markVerified({ ...bad, ok: true, changed: [] }, T0 + 3)).toBe('cleared');
        expect(await store.newestGood()).toMatchObject({ id: newer.id });
      });

      it('a mark for a record that is gone is not written', async () => {
        const a = await snapshot(store, T0);
        const result = await store.verify(await store.resolve(a.id));
        await store.remove(a.id);
        expect(await store.markVerified({ ...result, ok: false, changed: [{ path: 'x', reason: 'r' }] }, T0)).toBe('record-gone');
        expect(await h.leftovers()).toEqual([]);
      });
    });

    describe('the store itself: ensure, free space, lock', () => {
      it('free space and inodes are read where the store is or would be: a count, or Infinity', async () => {
        // Before `ensure`: `ckptd snapshot` checks both before the store's first snapshot makes it.
        for (const phase of ['before ensure', 'after ensure']) {
          if (phase === 'after ensure') await store.ensure();
          const bytes = await store.freeBytes();
          const inodes = await store.freeInodes();
          expect(bytes === Infinity || (Number.isSafeInteger(bytes) && bytes > 0), `${phase}: freeBytes ${bytes}`).toBe(true);
          expect(inodes === Infinity || (Number.isSafeInteger(inodes) && inodes >= 0), `${phase}: freeInodes ${inodes}`).toBe(true);
        }
      });

      it('ensure makes the store once; the lock has one holder, named to others, gone on release', async () => {
        await store.ensure();
        await store.ensure();
        expect(await store.listSnapshots()).toEqual([]);
        expect(typeof (await store.sharesCopyOnWrite())).toBe('boolean');
        expect(await store.lockHolder()).toBeNull();
        const info = { pid: process.pid, host: 'h1', since: new Date(T0).toISOString(), command: 'snapshot' };
        const lock = await store.lock(info);
        expect(await store.lockHolder()).toMatchObject({ ...info, alive: true });
        await expect(h.reopen().lock({ ...info, command: 'restore' })).rejects.toThrow(/snapshot/);
        await lock.release();
        expect(lock.signal.aborted).toBe(true);
        expect((await store.lockHolder())?.alive ?? false).toBe(false);
        const again = await h.reopen().lock({ ...info, command: 'restore' });
        expect(await store.lockHolder()).toMatchObject({ command: 'restore', alive: true });
        await again.release();
      });

      it("updateLabels under a released lock's signal refuses and changes nothing, even while a newer lock is held", async () => {
        const a = await snapshot(store, T0);
        const info = { pid: process.pid, host: 'h1', since: new Date(T0).toISOString(), command: 'daemon' };
        const old = await store.lock(info);
        await old.release();
        const renamed = await store.lock(info);
        try {
          await expect(store.updateLabels(a.id, { name: 'late', pinned: true }, { signal: old.signal })).rejects.toThrow(/lost the store lock/);
          expect(await store.resolve(a.id)).toMatchObject({ name: null, pinned: false });
          expect(await store.updateLabels(a.id, { name: 'now' }, { signal: renamed.signal })).toMatchObject({ name: 'now' });
        } finally {
          await renamed.release();
        }
      });
    });

    describe('signature', () => {
      it('changes when a record appears, is relabelled or goes, and not otherwise', async () => {
        const s0 = await store.signature();
        expect(await store.signature()).toBe(s0);
        const a = await snapshot(store, T0);
        const s1 = await store.signature();
        expect(s1).not.toBe(s0);
        await sleepPastMtimeGranularity();
        await store.updateLabels(a.id, { name: 'x' });
        const s2 = await store.signature();
        expect(s2).not.toBe(s1);
        await store.remove(a.id);
        expect(await store.signature()).not.toBe(s2);
      });

      it('changes at each relabelling of a save, the second as well as the first', async () => {
        const s = await save(store, T0);
        for (const name of ['good', 'best']) {
          const before = await store.signature();
          await sleepPastMtimeGranularity();
          await store.updateLabels(s.id, { name });
          expect(await store.signature()).not.toBe(before);
        }
      });
    });

    describe('faults at every step', () => {
      /** Each write step with what it does; the store starts with one snapshot (`base`). */
      type Act = (s: Store, base: SnapshotMeta, at: StoreHarness) => Promise<unknown>;
      const steps: { step: StoreStep; act: Act }[] = [
        { step: 'stageSnapshot', act: (s, _b, at) => snapshot(s, T0 + 10, {}, at) },
        { step: 'commit', act: (s, _b, at) => snapshot(s, T0 + 10, {}, at) },
        { step: 'commitSave', act: (s, _b, at) => save(s, T0 + 10, at) },
        { step: 'updateLabels', act: (s, base) => s.updateLabels(base.id, { name: 'renamed', pinned: true }) },
        { step: 'remove', act: (s, base) => s.remove(base.id) },
        {
          step: 'markVerified',
          act: async (s, base) => s.markVerified({ ...(await s.verify(await s.resolve(base.id))), ok: false, changed: [{ path: 'x', reason: 'r' }] }, T0),
        },
      ];
      const cases = steps.flatMap(({ step, act }) =>
        (['before', 'after'] as const).flatMap((when) => (['error', 'kill'] as const).map((kind) => ({ fault: { step, when, kind } as Fault, act }))),
      );

      /** What a store shows, ids left out but the base's (ids and run files differ between stores). */
      const visible = async (s: Store, base: SnapshotMeta): Promise<unknown[]> =>
        [...(await s.listSnapshots()), ...(await s.listSaves())].map((r) => ({
          base: r.id === base.id,
          kind: r.kind,
          name: r.name,
          notes: r.notes,
          pinned: r.pinned,
          damaged: r.damaged,
          files: r.files.map((f) => `${f.path}:${f.size}:${f.sha256}`),
        }));

      it.each(cases)('$fault.kind $fault.when $fault.step: all or nothing, and sweep leaves the store clean', async ({ fault, act }) => {
        const base = await snapshot(store, T0);
        const before = await visible(store, base);

        // What the step does when nothing fails, on a twin store: the only other state allowed.
        const twin = await make();
        put(twin.runDir, 'model.safetensors', 'weights v1');
        put(twin.runDir, 'opt/state.bin', 'optimizer');
        const twinBase = await snapshot(twin.store, T0, {}, twin);
        await act(twin.store, twinBase, twin);
        const done = await visible(twin.store, twinBase);
        expect(done).not.toEqual(before);

        const faulty = faultyStore(store, [fault]);
        const err = await act(faulty, base, h).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InjectedFault);
        expect(faulty.killed).toBe(fault.kind === 'kill');
        const reopened = h.reopen();
        await reopened.sweep([h.saveTo]);
        expect(await h.leftovers()).toEqual([]);
        // Failing before a step changes nothing; after it, the step happened (a snapshot whose
        // staging "failed" was never committed, so nothing happened either).
        const happened = fault.when === 'after' && fault.step !== 'stageSnapshot';
        expect(await visible(reopened, base)).toEqual(happened ? done : before);
        expect(await reopened.findBroken()).toEqual([]);
        // The store still works: a new snapshot commits and verifies.
        const next = await snapshot(reopened, T0 + 20);
        expect((await reopened.verify(await reopened.resolve(next.id))).ok).toBe(true);
      });
    });
  });
}

function put(root: string, rel: string, content: string): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

/** Folder mtimes may be coarse (a few ms on some file systems): wait for the clock to pass one tick. */
async function sleepPastMtimeGranularity(): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < 20) await new Promise((r) => setImmediate(r));
}
