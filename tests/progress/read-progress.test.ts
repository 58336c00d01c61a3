import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_READ_BYTES, diskView, readProgress, runFilesOf } from '../../src/progress/read-progress.js';
import { HF_STATE_500, T0, hfState, preset, progressOf, put, scanList, tempRun } from './fixtures.js';

describe('diskView', () => {
  it('reads small regular files and their mtimes', async () => {
    const run = await tempRun();
    put(run, 'a/b.json', '{"x": 1}', 3);
    const view = diskView(run, []);
    expect(await view.read('a/b.json')).toBe('{"x": 1}');
    expect(await view.mtimeMs('a/b.json')).toBe(T0 + 3 * 60_000);
  });

  it('resolves to null for missing files, folders and files over the cap', async () => {
    const run = await tempRun();
    put(run, 'big.json', 'x'.repeat(101));
    put(run, 'ok.json', 'x'.repeat(100));
    fs.mkdirSync(path.join(run, 'dir'));
    const view = diskView(run, [], 100);
    expect(await view.read('big.json')).toBeNull();
    expect(await view.read('ok.json')).toHaveLength(100);
    expect(await view.read('missing.json')).toBeNull();
    expect(await view.read('dir')).toBeNull();
    expect(await view.mtimeMs('missing.json')).toBeNull();
    expect(await view.mtimeMs('dir')).toBeNull();
  });

  it('never blocks on a FIFO, even behind a symlink named like a state file', async () => {
    const run = await tempRun();
    execFileSync('mkfifo', [path.join(run, 'pipe')]);
    fs.mkdirSync(path.join(run, 'checkpoint-9'));
    fs.symlinkSync('../pipe', path.join(run, 'checkpoint-9/trainer_state.json'));
    const view = diskView(run, []);
    expect(await view.read('pipe')).toBeNull();
    expect(await view.read('checkpoint-9/trainer_state.json')).toBeNull();
    // The scan lists the symlink; the hf preset must pass over it, not hang.
    put(run, 'checkpoint-5/trainer_state.json', HF_STATE_500.replace('"global_step": 500', '"global_step": 5'));
    expect((await progressOf(run, preset('hf'))).step).toBe(5);
  });

  it('never follows a symlink out of its folder (SPEC section 6): a state file linked outside reads as missing, one linked inside reads', async () => {
    const outside = await tempRun();
    const run = await tempRun();
    put(outside, 'secret.json', HF_STATE_500.replace('"global_step": 500', '"global_step": 4242'));
    put(run, 'checkpoint-5/trainer_state.json', HF_STATE_500.replace('"global_step": 500', '"global_step": 5'), 1);
    fs.mkdirSync(path.join(run, 'checkpoint-9'));
    fs.symlinkSync(path.join(outside, 'secret.json'), path.join(run, 'checkpoint-9/trainer_state.json'));
    fs.symlinkSync('../../' + path.basename(outside) + '/secret.json', path.join(run, 'up.json'));
    fs.symlinkSync(outside, path.join(run, 'elsewhere'));
    fs.symlinkSync('checkpoint-5/trainer_state.json', path.join(run, 'last.json'));
    const view = diskView(run, []);
    for (const rel of ['checkpoint-9/trainer_state.json', 'up.json', 'elsewhere/secret.json']) {
      expect(await view.read(rel), rel).toBeNull();
      expect(await view.readPrefix(rel, 10), rel).toBeNull();
      expect(await view.readEnds(rel, 10, 10), rel).toBeNull();
      expect(await view.mtimeMs(rel), rel).toBeNull();
    }
    expect(await view.read('last.json')).toContain('"global_step": 5');
    // The hf preset takes the newest checkpoint it can read inside the run, never the outside file.
    expect((await progressOf(run, preset('hf'))).step).toBe(5);
  });

  it('reads the start of a file of any size, and nothing from folders, FIFOs or missing files', async () => {
    const run = await tempRun();
    put(run, 'model/big.dat', Buffer.alloc(300, 7));
    put(run, 'small.dat', Buffer.from([1, 2, 3]));
    fs.mkdirSync(path.join(run, 'dir'));
    execFileSync('mkfifo', [path.join(run, 'pipe')]);
    const view = diskView(run, [], 100);
    // Over the text cap, yet its prefix reads: binary readers take only what they need.
    expect(await view.readPrefix('model/big.dat', 200)).toEqual(Buffer.alloc(200, 7));
    expect(await view.readPrefix('small.dat', 200)).toEqual(Buffer.from([1, 2, 3]));
    expect(await view.readPrefix('dir', 10)).toBeNull();
    expect(await view.readPrefix('pipe', 10)).toBeNull();
    expect(await view.readPrefix('missing.dat', 10)).toBeNull();
  });
});

describe('readProgress', () => {
  it('treats a state file over MAX_READ_BYTES as not a progress file', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/trainer_state.json', HF_STATE_500, 1);
    // A valid trainer_state.json padded past the cap with whitespace.
    put(run, 'checkpoint-1000/trainer_state.json', hfState(1000, 2, []) + ' '.repeat(MAX_READ_BYTES), 2);
    expect((await progressOf(run, preset('hf'))).step).toBe(500);
  });

  it('does not throw for a run folder that does not exist', async () => {
    const run = await tempRun();
    const gone = path.join(run, 'gone');
    expect(await readProgress(gone, { kind: 'auto' }, [{ path: 'checkpoint-1/trainer_state.json', mtimeMs: 0 }])).toEqual({
      epoch: null,
      step: null,
      loss: null,
      metrics: {},
      source: null,
    });
  });

  it('does not throw for a listed file that vanished or cannot be read', async () => {
    const run = await tempRun();
    const file = put(run, 'checkpoint-1/trainer_state.json', HF_STATE_500);
    const files = await scanList(run);
    fs.chmodSync(file, 0o000);
    const p1 = await readProgress(run, preset('hf'), files);
    fs.chmodSync(file, 0o644);
    fs.rmSync(file);
    const p2 = await readProgress(run, preset('hf'), files);
    // Root may read a mode-000 file; anyone else must find nothing in it.
    expect(p1.source).toBe(process.getuid?.() === 0 ? 'hf' : null);
    expect(p2.source).toBeNull();
  });

  it('returns a fresh object each time (callers may mutate it)', async () => {
    const run = await tempRun();
    const a = await progressOf(run, { kind: 'none' });
    a.metrics.x = 1;
    expect((await progressOf(run, { kind: 'none' })).metrics).toEqual({});
  });
});

describe('runFilesOf', () => {
  it('lists scan entries as run files: the path, and the mtime in whole ms', () => {
    expect(runFilesOf([{ path: 'a/trainer_state.json', mtimeNs: '1767225600123456789' }, { path: 'b', mtimeNs: '0' }])).toEqual([
      { path: 'a/trainer_state.json', mtimeMs: 1767225600123 },
      { path: 'b', mtimeMs: 0 },
    ]);
  });
});
