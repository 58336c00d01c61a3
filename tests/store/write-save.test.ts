import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NO_PROGRESS, type Progress } from '../../src/policy/types.js';
import { deleteSave } from '../../src/store/delete-snapshot.js';
import { listSaves, resolveId } from '../../src/store/read-store.js';
import { PathSwappedError } from '../../src/store/errors.js';
import { verifySave } from '../../src/store/verify-snapshot.js';
import { saveBaseName, writeSave, type WriteSaveOptions } from '../../src/store/write-save.js';
import { put, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

const MODELS = ['**/*.safetensors', '**/*.pt'];
const P: Progress = { epoch: 2, step: 400, loss: 0.3, metrics: {}, source: 'test' };

async function save(run: string, store: string, extra: Partial<WriteSaveOptions> = {}) {
  return writeSave({
    store,
    saveTo: path.join(store, 'saves'),
    runName: 'lora',
    prefix: '',
    files: MODELS,
    from: null,
    runDir: run,
    entries: await scanAll(run, store),
    progress: P,
    trigger: 'every 1 epochs',
    now: Date.now(),
    ...extra,
  });
}

describe('writeSave', () => {
  it('exports one model file as <prefix><run>-e<epoch>-s<step>-<id>.<ext> with a record', async () => {
    const { run, store } = await runAndStore();
    put(run, 'out/model.safetensors', 'WEIGHTS');
    put(run, 'trainer_state.json', '{}');
    const meta = await save(run, store, { prefix: 'team/' });
    expect(path.basename(meta.path)).toBe(`team_lora-e2-s400-${meta.id}.safetensors`);
    expect(path.dirname(meta.path)).toBe(path.join(store, 'saves'));
    expect(fs.readFileSync(meta.path, 'utf8')).toBe('WEIGHTS');
    expect(meta.files).toEqual([expect.objectContaining({ path: 'out/model.safetensors', size: 7, sha256: sha256('WEIGHTS') })]);
    expect(meta).toMatchObject({ kind: 'save', run: 'lora', epoch: 2, step: 400, loss: 0.3, bytes: 7, from_snapshot: null, format: 1 });
    expect((await listSaves(store)).map((s) => s.id)).toEqual([meta.id]);
    expect((await resolveId(store, meta.id)).path).toBe(meta.path);
    expect(fs.readdirSync(path.join(store, 'saves')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('exports several model files as a folder holding them at their relative paths', async () => {
    const { run, store } = await runAndStore();
    put(run, 'unet/model.safetensors', 'U');
    put(run, 'text/model.safetensors', 'T');
    put(run, 'optimizer.pt', 'O');
    const meta = await save(run, store, { progress: NO_PROGRESS });
    expect(path.basename(meta.path)).toBe(`lora-${meta.id}`);
    expect(fs.statSync(meta.path).isDirectory()).toBe(true);
    expect(meta.files.map((f) => f.path)).toEqual(['optimizer.pt', 'text/model.safetensors', 'unet/model.safetensors']);
    for (const f of meta.files) expect(sha256File(path.join(meta.path, f.path))).toBe(f.sha256);

    const result = await deleteSave(store, meta.id, { saveTo: null });
    expect(result.kept).toEqual([]);
    expect(fs.existsSync(meta.path)).toBe(false);
    expect(await listSaves(store)).toEqual([]);
  });

  it('exports from the backup of the same state when given one', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.pt', 'PPPP');
    const backup = await snap(run, store);
    // Remove the run's copy: the save can only come from the snapshot now.
    const entries = await scanAll(run, store);
    fs.rmSync(path.join(run, 'model.pt'));
    const meta = await save(run, store, { from: backup, entries });
    expect(meta.from_snapshot).toBe(backup.id);
    expect(fs.readFileSync(meta.path, 'utf8')).toBe('PPPP');
    expect(meta.files[0]!.sha256).toBe(backup.files[0]!.sha256);
    expect(meta.id > backup.id).toBe(true);
  });

  it('refuses to export a backup\'s stored copy that no longer holds its manifest\'s bytes: no export, no record', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.pt', 'PPPP');
    const backup = await snap(run, store);
    const entries = await scanAll(run, store);
    // The stored copy rotted since the backup, same size: its manifest's hash no longer fits it.
    const stored = path.join(store, 'snapshots', backup.id, 'files', 'model.pt');
    fs.chmodSync(stored, 0o644);
    fs.writeFileSync(stored, 'XXXX');
    await expect(save(run, store, { from: backup, entries })).rejects.toThrow(`backup ${backup.id}`);
    expect(await listSaves(store)).toEqual([]);
    expect(fs.readdirSync(path.join(store, 'saves'))).toEqual([]);
  });

  it('says which globs matched nothing', async () => {
    const { run, store } = await runAndStore();
    put(run, 'notes.txt', 'n');
    await expect(save(run, store)).rejects.toThrow(/"\*\*\/\*\.safetensors" matched nothing, "\*\*\/\*\.pt" matched nothing/);
    expect(await listSaves(store)).toEqual([]);
  });

  it('leaves nothing behind when the source changed before the copy', async () => {
    const { run, store } = await runAndStore();
    const m = put(run, 'model.pt', 'v1');
    const entries = await scanAll(run, store);
    fs.writeFileSync(m, 'version 2');
    await expect(save(run, store, { entries })).rejects.toThrow(/changed/);
    expect(fs.readdirSync(path.join(store, 'saves'))).toEqual([]);
    expect(await listSaves(store)).toEqual([]);
  });
});

describe('writeSave modes', () => {
  const cases: [number, number][] = [
    [0o600, 0o400],
    [0o644, 0o444],
    [0o755, 0o555],
    [0o640, 0o440],
  ];

  it('keeps the source\'s read and execute bits and drops every write bit, from the run or from a backup', async () => {
    for (const fromBackup of [false, true]) {
      for (const [source, expected] of cases) {
        const { run, store } = await runAndStore();
        const model = put(run, 'model.pt', 'secret weights');
        fs.chmodSync(model, source);
        const backup = fromBackup ? await snap(run, store) : null;
        const meta = await save(run, store, { from: backup });
        expect(meta.from_snapshot).toBe(backup?.id ?? null);
        expect((fs.statSync(meta.path).mode & 0o777).toString(8), `${source.toString(8)} from ${fromBackup ? 'a backup' : 'the run'}`).toBe(expected.toString(8));
        const verdict = await verifySave(store, meta);
        expect(verdict.ok).toBe(true);
      }
    }
  });
});

describe('saveBaseName', () => {
  it('sanitizes the prefix and leaves out unknown epoch and step', () => {
    expect(saveBaseName('a/b\\c\0d\n', 'run', NO_PROGRESS, 'ID')).toBe('a_b_c_d_run-ID');
    expect(saveBaseName('', 'run', { ...NO_PROGRESS, step: 7 }, 'ID')).toBe('run-s7-ID');
    expect(saveBaseName('.ckptd-tmp-', 'run', NO_PROGRESS, 'ID')).toBe('_ckptd-tmp-run-ID');
    // A Hugging Face epoch is steps / steps_per_epoch: float noise must not reach the file name.
    expect(saveBaseName('', 'run', { ...NO_PROGRESS, epoch: 2.4999999999999996, step: 500 }, 'ID')).toBe('run-e2.5-s500-ID');
  });

  it('never exports a file reached through a folder of the run swapped for a symlink out of it', async () => {
    const { base, run, store } = await runAndStore();
    put(run, 'ckpt/model.safetensors', 'the run own weights');
    const outside = path.join(base, 'outside');
    put(outside, 'model.safetensors', 'OUTSIDE SECRET bytes');
    fs.renameSync(path.join(run, 'ckpt'), path.join(base, 'ckpt-away'));
    fs.symlinkSync(outside, path.join(run, 'ckpt'));
    // What a scan racing the swap records: the folder listed before it, the file lstat'ed after.
    const o = fs.lstatSync(path.join(outside, 'model.safetensors'), { bigint: true });
    const entries = [{ path: 'ckpt/model.safetensors', type: 'file' as const, size: Number(o.size), mtimeNs: o.mtimeNs.toString(), ctimeNs: o.ctimeNs.toString(), ino: Number(o.ino), mode: 0o644 }];
    await expect(save(run, store, { entries })).rejects.toBeInstanceOf(PathSwappedError);
    const saves = path.join(store, 'saves');
    const exported = fs.existsSync(saves) ? fs.readdirSync(saves) : [];
    expect(exported).toEqual([]);
    expect(await listSaves(store)).toEqual([]);
  });
});
