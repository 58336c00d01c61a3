import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScanError } from '../../src/store/errors.js';
import { ALWAYS_EXCLUDED, scanState, scanStateDetailed, stateDigest } from '../../src/store/scan.js';
import { put, runAndStore, tempDir } from './fixtures.js';

const ALL = { include: ['**/*'], exclude: [], excludeAbs: [] };

describe('scanState', () => {
  it('applies include and exclude to relative POSIX paths, dot files included, sorted', async () => {
    const run = await tempDir();
    put(run, 'b.safetensors', 'b');
    put(run, 'a/model.pt', 'a');
    put(run, '.hidden/x.json', 'x');
    put(run, 'logs/events.out', 'l');
    put(run, 'notes.txt', 'n');
    const entries = await scanState(run, { include: ['**/*.pt', '**/*.safetensors', '**/*.json', 'logs/**'], exclude: ['logs/**'], excludeAbs: [] });
    expect(entries.map((e) => e.path)).toEqual(['.hidden/x.json', 'a/model.pt', 'b.safetensors']);
    const e = entries[2]!;
    expect(e.type).toBe('file');
    expect(e.size).toBe(1);
    expect(e.ino).toBe(fs.statSync(path.join(run, 'b.safetensors')).ino);
    expect(e.mtimeNs).toBe(fs.statSync(path.join(run, 'b.safetensors'), { bigint: true }).mtimeNs.toString());
    expect(e.mode).toBe(fs.statSync(path.join(run, 'b.safetensors')).mode & 0o7777);
  });

  it('always leaves out ckptd files and temp names', async () => {
    const run = await tempDir();
    const junk = [
      '.ckptd-progress.json',
      'sub/.ckptd-tmp-123',
      'w.tmp',
      'sub/w.temp',
      'd.part',
      'd.partial',
      '.model.swp',
      'backup~',
      '.#lock',
      'x.crdownload',
      'tmp-checkpoint-10/model.safetensors',
      'out/tmp-checkpoint-20/optimizer.pt',
    ];
    for (const j of junk) put(run, j, 'j');
    put(run, 'keep.bin', 'k');
    const entries = await scanState(run, ALL);
    expect(entries.map((e) => e.path)).toEqual(['keep.bin']);
    expect(ALWAYS_EXCLUDED).toContain('**/*.tmp');
  });

  it('records symlinks as symlinks and never follows them', async () => {
    const { run, base } = await runAndStore();
    put(base, 'outside/secret.bin', 's');
    put(run, 'real.bin', 'r');
    fs.symlinkSync(path.join(base, 'outside'), path.join(run, 'linkdir'));
    fs.symlinkSync('real.bin', path.join(run, 'link.bin'));
    fs.symlinkSync('missing', path.join(run, 'dangling'));
    const entries = await scanState(run, ALL);
    expect(entries.map((e) => [e.path, e.type, e.target ?? null])).toEqual([
      ['dangling', 'symlink', 'missing'],
      ['link.bin', 'symlink', 'real.bin'],
      ['linkdir', 'symlink', path.join(base, 'outside')],
      ['real.bin', 'file', null],
    ]);
  });

  it('never enters excluded absolute paths (the store inside the run)', async () => {
    const run = await tempDir();
    put(run, 'model.pt', 'm');
    put(run, '.ckpt-store/snapshots/x/files/model.pt', 'old');
    put(run, 'saves/r-1.pt', 's');
    const entries = await scanState(run, { ...ALL, excludeAbs: [path.join(run, '.ckpt-store'), path.join(run, 'saves'), '/elsewhere'] });
    expect(entries.map((e) => e.path)).toEqual(['model.pt']);
  });

  // Root reads everything: an unreadable folder can only be made for other users.
  it.skipIf(process.getuid?.() === 0)('names an unreadable folder instead of capturing an incomplete state', async () => {
    const run = await tempDir();
    put(run, 'ok.bin', 'o');
    put(run, 'locked/inner.bin', 'i');
    fs.chmodSync(path.join(run, 'locked'), 0o000);
    try {
      const err = await scanState(run, ALL).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScanError);
      expect((err as ScanError).message).toContain(path.join(run, 'locked'));
      const detailed = await scanStateDetailed(run, ALL);
      expect(detailed.entries.map((e) => e.path)).toEqual(['ok.bin']);
      expect(detailed.problems.map((p) => p.path)).toEqual([path.join(run, 'locked')]);
    } finally {
      fs.chmodSync(path.join(run, 'locked'), 0o755);
    }
  });

  it('throws for a missing run folder', async () => {
    const base = await tempDir();
    await expect(scanState(path.join(base, 'nope'), ALL)).rejects.toThrow(/nope/);
  });
});

describe('stateDigest', () => {
  it('is stable for an untouched state and changes with content, mode or a new file', async () => {
    const run = await tempDir();
    const f = put(run, 'a.bin', 'one');
    const d1 = stateDigest(await scanState(run, ALL));
    expect(stateDigest(await scanState(run, ALL))).toBe(d1);
    fs.writeFileSync(f, 'two!');
    const d2 = stateDigest(await scanState(run, ALL));
    expect(d2).not.toBe(d1);
    fs.chmodSync(f, 0o600);
    const d3 = stateDigest(await scanState(run, ALL));
    expect(d3).not.toBe(d2);
    put(run, 'b.bin', 'b');
    expect(stateDigest(await scanState(run, ALL))).not.toBe(d3);
  });

  it('does not depend on the order of entries', async () => {
    const run = await tempDir();
    put(run, 'a', '1');
    put(run, 'b', '2');
    const entries = await scanState(run, ALL);
    expect(stateDigest([...entries].reverse())).toBe(stateDigest(entries));
  });
});
