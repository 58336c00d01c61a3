import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALWAYS_EXCLUDED, ALWAYS_EXCLUDED_MARKS, displayName, leftOutOf, scanState, scanStateDetailed, stateDigest } from '../../src/store/scan.js';
import type { ScanEntry } from '../../src/store/types.js';
import { runUnprivileged } from '../helpers/unprivileged.js';
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

  it('every always-excluded glob holds one of the marks the scan looks for first (a path without any is never tested against them)', () => {
    // The marks hold no glob syntax, and a glob's literal text is in every path it matches.
    for (const glob of ALWAYS_EXCLUDED) expect(ALWAYS_EXCLUDED_MARKS.some((m) => glob.includes(m)), glob).toBe(true);
    for (const mark of ALWAYS_EXCLUDED_MARKS) expect(mark, mark).not.toMatch(/[*?[\]{}()!+@\\]/);
  });

  it('leaves out what the user excludes and what is always excluded, together', async () => {
    const { run } = await runAndStore();
    for (const f of ['a/x.tmp', 'a/keep.bin', 'logs/l.txt', 'b/.ckptd-staging/f', 'b/keep.part2']) put(run, f, 'x');
    const entries = await scanState(run, { ...ALL, exclude: ['logs/**'] });
    expect(entries.map((e) => e.path)).toEqual(['a/keep.bin', 'b/keep.part2']);
  });

  it('finds files in folders whose names hold a newline or another line break, like any other', async () => {
    // A glob's `**` did not cross a folder name holding a line break: its files were neither
    // scanned nor listed as left out.
    const run = await tempDir();
    put(run, 'a\nb/f.txt', 'f');
    put(run, 'c\rd/e\u2028f/g.txt', 'g');
    put(run, 'top\nname.txt', 't');
    put(run, 'logs\nold/x.log', 'x');
    const r = await scanStateDetailed(run, { include: ['**/*'], exclude: ['**/*.log'], excludeAbs: [] });
    expect(r.entries.map((e) => e.path)).toEqual(['a\nb/f.txt', 'c\rd/e\u2028f/g.txt', 'top\nname.txt']);
    expect(r.leftOut).toEqual([]);
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

  it('names an unreadable folder instead of capturing an incomplete state', async () => {
    const { run } = await runAndStore();
    put(run, 'ok.bin', 'o');
    put(run, 'locked/inner.bin', 'i');
    const locked = path.join(run, 'locked');
    const got = runUnprivileged(
      `import fs from 'node:fs';
      import { scanState, scanStateDetailed } from 'DIST/src/store/scan.js';
      const all = { include: ['**/*'], exclude: [], excludeAbs: [] };
      fs.chmodSync(${JSON.stringify(locked)}, 0o000);
      const err = await scanState(${JSON.stringify(run)}, all).catch((e) => e);
      const detailed = await scanStateDetailed(${JSON.stringify(run)}, all);
      fs.chmodSync(${JSON.stringify(locked)}, 0o755);
      console.log(JSON.stringify({ error: err.name, message: err.message, entries: detailed.entries.map((e) => e.path), problems: detailed.problems.map((p) => p.path) }));`,
    ) as { error: string; message: string; entries: string[]; problems: string[] };
    expect(got.error).toBe('ScanError');
    expect(got.message).toContain(locked);
    expect(got.entries).toEqual(['ok.bin']);
    expect(got.problems).toEqual([locked]);
  });

  it('reports names that are not valid UTF-8 as left out instead of dropping them silently', async () => {
    const run = await tempDir();
    put(run, 'ok.bin', 'o');
    const runBuf = Buffer.from(run);
    const bad = (...parts: (string | number[])[]): Buffer =>
      Buffer.concat([runBuf, ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))]);
    fs.writeFileSync(bad('/model', [0xff], '.bin'), 'm');
    fs.mkdirSync(bad('/ckpt-', [0xe9], 't', [0xe9]));
    fs.writeFileSync(bad('/ckpt-', [0xe9], 't', [0xe9], '/weights.pt'), 'w');
    fs.mkdirSync(path.join(run, 'sub'));
    fs.writeFileSync(bad('/sub/x', [0xc3, 0x28]), 'x');
    fs.writeFileSync(bad('/skip', [0xff], '.log'), 'l');

    const opts = { include: ['**/*'], exclude: ['**/*.log'], excludeAbs: [] };
    const detailed = await scanStateDetailed(run, opts);
    expect(detailed.entries.map((e) => e.path)).toEqual(['ok.bin']);
    const reason = 'the name is not valid UTF-8: rename it to capture it';
    expect(detailed.leftOut).toEqual([
      { path: 'ckpt-\\xe9t\\xe9/', reason },
      { path: 'model\\xff.bin', reason },
      { path: 'sub/x\\xc3(', reason },
    ]);
    const entries = await scanState(run, opts);
    expect(leftOutOf(entries).map((l) => l.path)).toEqual(['ckpt-\\xe9t\\xe9/', 'model\\xff.bin', 'sub/x\\xc3(']);
    expect(leftOutOf([...entries])).toEqual([]);
  });

  it('shows a name with its valid UTF-8 as text and each other byte as \\xNN', () => {
    expect(displayName(Buffer.from('été.bin'))).toBe('été.bin');
    expect(displayName(Buffer.from([0x61, 0xff, 0xe2, 0x82, 0xac, 0xe2, 0x82]))).toBe('a\\xff€\\xe2\\x82');
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

  it('is the sha256 of one line per entry in path order, however many lines (stored snapshots compare with it)', () => {
    const entries: ScanEntry[] = [];
    for (let i = 0; i < 5000; i++) {
      const e: ScanEntry = { path: `dir-é-${String(i).padStart(5, '0')}/${'x'.repeat(i % 40)}.bin`, type: 'file', size: i, mtimeNs: `1764650000${i}`, ino: i, mode: 0o644 };
      if (i % 7 === 0) Object.assign(e, { type: 'symlink', target: `../t-${i}` });
      entries.push(e);
    }
    const lines = entries.map((e) => `${e.path}\0${e.type}\0${e.size}\0${e.mtimeNs}\0${e.mode.toString(8)}\0${e.target ?? ''}\n`).join('');
    const expected = createHash('sha256').update(lines).digest('hex');
    expect(stateDigest(entries)).toBe(expected);
    expect(stateDigest([...entries].reverse())).toBe(expected);
  });
});
