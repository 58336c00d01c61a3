import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSave, deleteSnapshot, sweepStore } from '../../src/store/delete-snapshot.js';
import { writeLabels } from '../../src/store/labels.js';
import { pendingSaveRecordFile, saveRecordFile } from '../../src/store/layout.js';
import { listSnapshots } from '../../src/store/read-store.js';
import { writeSave } from '../../src/store/write-save.js';
import { age, put, runAndStore, runToSave, SAVE_SHAPES, snap } from './fixtures.js';

describe('deleteSnapshot', () => {
  it('deletes a snapshot without touching the files it shares with others', async () => {
    const { run, store } = await runAndStore();
    put(run, 'shared.bin', 'shared');
    const w = put(run, 'w.bin', 'one');
    age(w);
    const first = await snap(run, store);
    fs.writeFileSync(w, 'two');
    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });
    await deleteSnapshot(store, first.id);
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([second.id]);
    expect(fs.existsSync(path.join(store, 'snapshots', first.id))).toBe(false);
    expect(fs.readFileSync(path.join(second.path, 'shared.bin'), 'utf8')).toBe('shared');
    expect(fs.readdirSync(path.join(store, '.trash'))).toEqual([]);
    expect(fs.readFileSync(path.join(run, 'shared.bin'), 'utf8')).toBe('shared');
  });

  it('refuses with the guard reason, judged on fresh metadata', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const meta = await snap(run, store, { pinned: true });
    await expect(deleteSnapshot(store, meta.id, (fresh) => (fresh.pinned ? 'it is pinned' : null))).rejects.toThrow(/it is pinned/);
    expect(fs.existsSync(meta.path)).toBe(true);
  });

  it('refuses ids outside the store, unknown ids and folders that are not snapshots', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'a', 'a');
    await snap(run, store);
    for (const bad of ['../run', '..', '/etc', 'a/b', '']) await expect(deleteSnapshot(store, bad)).rejects.toThrow(/not a valid/);
    await expect(deleteSnapshot(store, '20990101-000000-000-aaaa')).rejects.toThrow(/no snapshot/);

    // A symlink in snapshots/ pointing elsewhere is never followed into a deletion.
    const outside = path.join(base, 'outside');
    put(outside, 'snapshot.json', JSON.stringify({ id: '20990101-000000-000-bbbb' }));
    fs.symlinkSync(outside, path.join(store, 'snapshots', '20990101-000000-000-bbbb'));
    await expect(deleteSnapshot(store, '20990101-000000-000-bbbb')).rejects.toThrow(/not a folder/);
    expect(fs.existsSync(path.join(outside, 'snapshot.json'))).toBe(true);

    // A folder without snapshot.json (or naming another id) is not proven ours.
    fs.mkdirSync(path.join(store, 'snapshots', '20990101-000000-000-cccc'));
    put(path.join(store, 'snapshots', '20990101-000000-000-cccc'), 'user-file', 'keep me');
    await expect(deleteSnapshot(store, '20990101-000000-000-cccc')).rejects.toThrow(/snapshot.json is missing/);
    expect(fs.existsSync(path.join(store, 'snapshots', '20990101-000000-000-cccc', 'user-file'))).toBe(true);
  });

  it('deletes nothing outside the store when .trash is a symlink out of it', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'a', 'a');
    const meta = await snap(run, store);
    const outside = path.join(base, 'outside');
    // A folder of the user's that happens to carry the snapshot's id.
    put(outside, `${meta.id}/notes.txt`, 'mine');
    fs.rmSync(path.join(store, '.trash'), { recursive: true, force: true });
    fs.symlinkSync(outside, path.join(store, '.trash'));

    await expect(deleteSnapshot(store, meta.id)).rejects.toThrow(/refusing to empty \.trash: .*symlink/);
    expect(fs.readFileSync(path.join(outside, meta.id, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.existsSync(meta.path)).toBe(true);
  });
});

describe('sweepStore', () => {
  it('removes staging and trash leftovers and temp files, and nothing else', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a', 'a');
    const meta = await snap(run, store);
    const half = put(store, '.staging/20990101-000000-000-aaaa/files/model.bin', 'half');
    fs.chmodSync(half, 0o444);
    put(store, '.trash/20990101-000000-000-bbbb/files/x', 'x');
    put(store, '.ckptd-tmp-state.json-1234', '{');
    put(store, 'saves/.ckptd-tmp-20990101-000000-000-cccc.pt', 'partial');
    put(store, 'saves/r-e1-s1-20990101-000000-000-dddd.pt', 'a real save');
    const { removed } = await sweepStore(store);
    expect(removed.map((p) => path.relative(store, p)).sort()).toEqual(
      ['.ckptd-tmp-state.json-1234', '.staging/20990101-000000-000-aaaa', '.trash/20990101-000000-000-bbbb', 'saves/.ckptd-tmp-20990101-000000-000-cccc.pt'].sort(),
    );
    expect(fs.existsSync(path.join(store, 'saves/r-e1-s1-20990101-000000-000-dddd.pt'))).toBe(true);
    expect((await listSnapshots(store)).map((s) => s.id)).toEqual([meta.id]);
    expect((await sweepStore(store)).removed).toEqual([]);
  });

  it('removes nothing through a .staging or .trash that is a symlink out of the store, and says why', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'a', 'a');
    await snap(run, store);
    for (const name of ['.staging', '.trash']) {
      const outside = path.join(base, `outside${name}`);
      put(outside, 'thesis/chapter-1.tex', 'years of work');
      fs.rmSync(path.join(store, name), { recursive: true, force: true });
      fs.symlinkSync(outside, path.join(store, name));

      await expect(sweepStore(store)).rejects.toThrow(new RegExp(`refusing to empty ${name.replace('.', '\\.')}: .*symlink`));
      expect(fs.readFileSync(path.join(outside, 'thesis/chapter-1.tex'), 'utf8')).toBe('years of work');
      fs.unlinkSync(path.join(store, name));
    }
  });
});

describe('deleteSave', () => {
  it('removes only the files its record lists and keeps what the user added', async () => {
    const { base, store } = await runAndStore();
    const id = '20990101-000000-000-abcd';
    const saveDir = path.join(base, 'exports', `r-${id}`);
    put(saveDir, 'a/model.safetensors', 'AAAA');
    put(saveDir, 'b.pt', 'BB');
    put(saveDir, 'a/user-notes.txt', 'mine');
    const files = [
      { path: 'a/model.safetensors', size: 4, sha256: 'a'.repeat(64), mode: 0o644, mtime_ns: '0' },
      { path: 'b.pt', size: 2, sha256: 'b'.repeat(64), mode: 0o644, mtime_ns: '0' },
    ];
    put(store, `save-records/${id}.json`, JSON.stringify({ id, run: 'r', kind: 'save', path: saveDir, files, format: 1, created: '' }));
    const result = await deleteSave(store, id, { saveTo: path.join(base, 'exports') });
    expect(result.removed.map((p) => path.relative(saveDir, p)).sort()).toEqual(['a/model.safetensors', 'b.pt']);
    expect(fs.readFileSync(path.join(saveDir, 'a/user-notes.txt'), 'utf8')).toBe('mine');
    expect(result.kept.map((k) => path.relative(saveDir, k.path)).sort()).toEqual(['', 'a']);
    expect(fs.existsSync(path.join(store, 'save-records', `${id}.json`))).toBe(false);
  });

  it('keeps a file that no longer matches its record', async () => {
    const { base, store } = await runAndStore();
    const id = '20990101-000000-000-abce';
    const file = put(base, `exports/r-${id}.pt`, 'replaced by the user with other bytes');
    const files = [{ path: 'model.pt', size: 4, sha256: 'a'.repeat(64), mode: 0o644, mtime_ns: '0' }];
    put(store, `save-records/${id}.json`, JSON.stringify({ id, run: 'r', kind: 'save', path: file, files, format: 1, created: '' }));
    const result = await deleteSave(store, id, { saveTo: path.join(base, 'exports') });
    expect(result.removed).toEqual([]);
    expect(fs.existsSync(file)).toBe(true);
  });

  const changedThen = SAVE_SHAPES.flatMap(([label, models]) => [
    [label, 'deleted', models],
    [label, 'renamed, then deleted', models],
    [label, 'killed before its record was committed, swept, then deleted', models],
    [label, 'killed between the link and unlink of its record, swept, then deleted', models],
    [label, 'the store chmod -R\'d (its record\'s ctime moved), then deleted', models],
  ] as const);
  it.each(changedThen)('keeps an export the person changed after the save, even at the same size (%s, %s)', async (_label, then, models) => {
    const { store, saveTo, opts } = await runToSave(models);
    const save = await writeSave(opts);
    // The record as a kill left it: still under its pending name, or under both (commitStaged links, then unlinks).
    const [record, pending] = [saveRecordFile(store, save.id), pendingSaveRecordFile(store, save.id)];
    if (then.startsWith('killed before')) fs.renameSync(record, pending);
    if (then.startsWith('killed between')) fs.linkSync(record, pending);
    // Past the clock tick of the commit, on a kernel whose file times are coarse.
    const nextTick = () => new Promise((r) => setTimeout(r, 20));
    await nextTick();
    // Made writable, rewritten in place with as many bytes, read-only again: the tensors' shapes did not change.
    const edited = models.length === 1 ? save.path : path.join(save.path, models[0]!);
    const mode = fs.statSync(edited).mode;
    fs.chmodSync(edited, 0o644);
    fs.writeFileSync(edited, fs.readFileSync(edited, 'utf8').toUpperCase());
    fs.chmodSync(edited, mode);
    if (then === 'renamed, then deleted') {
      // The label change writes a new record: the time the save was committed must not move with it.
      await nextTick();
      await writeLabels(store, save.id, 'save', { name: 'best' });
    }
    if (then.startsWith('the store chmod')) {
      // As `chmod -R` or `chown -R` over the store, or a copy of it to another disk, leave it.
      await nextTick();
      const mode = fs.statSync(record).mode & 0o777;
      fs.chmodSync(record, mode ^ 0o004);
      fs.chmodSync(record, mode);
    }
    if (then.startsWith('killed')) {
      // The next start's sweep commits the record, or removes its second name.
      await nextTick();
      await sweepStore(store, [saveTo]);
      expect([fs.existsSync(record), fs.existsSync(pending)]).toEqual([true, false]);
    }

    const result = await deleteSave(store, save.id, { saveTo });
    expect(fs.readFileSync(edited, 'utf8')).toBe(`WEIGHTS OF ${models[0]!.toUpperCase()}`);
    expect(result.kept).toContainEqual({ path: edited, reason: 'it no longer matches the save record' });
    expect(result.removed).not.toContain(edited);
  });

  it('refuses a record that names a file outside save.to and the store\'s saves: nothing removed, the record kept', async () => {
    const { base, store } = await runAndStore();
    const id = '20990101-000000-000-abcf';
    const victim = put(base, `victim/r-${id}.pt`, 'precious');
    const files = [{ path: 'model.pt', size: 8, sha256: 'a'.repeat(64), mode: 0o644, mtime_ns: '0' }];
    const record = put(store, `save-records/${id}.json`, JSON.stringify({ id, run: 'r', kind: 'save', path: victim, files, format: 1, created: '' }));
    await expect(deleteSave(store, id, { saveTo: path.join(base, 'exports') })).rejects.toThrow(
      new RegExp(`refusing to delete save ${id}: its record names ${victim}, which is not in .*saves or .*exports under a name carrying the id; nothing was removed`),
    );
    // A path that only looks inside (`..`) is judged where it leads.
    const dotted = path.join(store, 'saves', '..', '..', 'victim', `r-${id}.pt`);
    fs.writeFileSync(record, JSON.stringify({ id, run: 'r', kind: 'save', path: dotted, files, format: 1, created: '' }));
    await expect(deleteSave(store, id, { saveTo: null })).rejects.toThrow(/nothing was removed/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.existsSync(record)).toBe(true);
  });

  it('removes no file of a save folder through a subfolder swapped for a symlink out of it', async () => {
    const { base, store } = await runAndStore();
    const id = '20990101-000000-000-abd0';
    const saveDir = path.join(base, 'exports', `r-${id}`);
    put(saveDir, 'b.pt', 'BB');
    const victim = put(base, 'victim/model.safetensors', 'AAAA');
    fs.symlinkSync(path.dirname(victim), path.join(saveDir, 'a'));
    const files = [
      { path: 'a/model.safetensors', size: 4, sha256: 'a'.repeat(64), mode: 0o644, mtime_ns: '0' },
      { path: 'b.pt', size: 2, sha256: 'b'.repeat(64), mode: 0o644, mtime_ns: '0' },
    ];
    put(store, `save-records/${id}.json`, JSON.stringify({ id, run: 'r', kind: 'save', path: saveDir, files, format: 1, created: '' }));
    const result = await deleteSave(store, id, { saveTo: path.join(base, 'exports') });
    expect(fs.readFileSync(victim, 'utf8')).toBe('AAAA');
    expect(result.removed).toEqual([path.join(saveDir, 'b.pt')]);
    expect(result.kept).toContainEqual({ path: path.join(saveDir, 'a/model.safetensors'), reason: expect.stringMatching(/is a symlink/) });
  });
});
