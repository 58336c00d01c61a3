/**
 * `snapshot.json` written and read piece by piece (issue 15: a run of 100,000 files has a 29 MB
 * manifest): the text must be exactly what `JSON.stringify(meta, null, 2)` wrote before, and what
 * is read exactly what `JSON.parse` gives, whatever falls on a 1 MiB read boundary.
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { editSnapshotJson, readSnapshotJson, writeSnapshotJson, type FilesRule } from '../../src/store/snapshot-json.js';
import type { ManifestEntry, SnapshotMeta } from '../../src/store/types.js';
import { sha256, tempDir } from './fixtures.js';

/** A manifest of `n` entries whose text crosses several 1 MiB boundaries, with names that try to fool a scan. */
function manifest(n: number): SnapshotMeta {
  const files: ManifestEntry[] = [];
  for (let i = 0; i < n; i++) {
    // Multi-byte UTF-8, quotes, backslashes and brackets inside strings, at every offset.
    const name = ['é', '日本語', '"quoted"', 'back\\slash', '[x]', '{y}', 'a,b:c'][i % 7]!;
    const e: ManifestEntry = { path: `dir-${i % 13}/${name}-${i}.json`, size: i, sha256: sha256(String(i)), mode: 0o644, mtime_ns: `17000000000${i}`, ino: 1000 + i, ctime_ns: `17000000001${i}` };
    if (i % 97 === 0) Object.assign(e, { type: 'symlink', target: `../"files": [${i}]` });
    files.push(e);
  }
  return {
    id: '20261201-120000-000-abcd',
    run: 'train',
    kind: 'backup',
    name: 'a "files": [] name',
    // A raw newline cannot be in a JSON string: this is the escaped form, which must not fool the writer.
    notes: 'notes with\n  "files": [] and ] } brackets',
    pinned: false,
    created: '2026-12-01T12:00:00.000Z',
    trigger: 'files',
    epoch: 3,
    step: 1200,
    loss: 0.25,
    metrics: { files: 2, 'eval/loss': 0.5 },
    model_type: null,
    bytes: 123,
    path: '/store/snapshots/x/files',
    files,
    state_digest: 'f'.repeat(64),
    skipped: [{ path: 'files', reason: 'vanished' }],
    incomplete: true,
    left_out: [],
    copied_bytes: 1,
    linked_bytes: 2,
    format: 1,
  };
}

const keepAll: FilesRule = { keep: true, check: () => null };

describe('snapshot.json written piece by piece', () => {
  it('is byte for byte the text of JSON.stringify(meta, null, 2) and a newline, read-only and fsynced', async () => {
    const dir = await tempDir();
    // 100, 101, 199: the entries are written 100 to a piece (ENTRIES_PER_PIECE).
    for (const n of [0, 1, 100, 101, 199, 9000]) {
      const meta = manifest(n);
      const file = path.join(dir, `snapshot-${n}.json`);
      await writeSnapshotJson(file, meta, 0o444);
      expect(fs.readFileSync(file, 'utf8') === `${JSON.stringify(meta, null, 2)}\n`, `${n} entries`).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o444);
    }
    expect(fs.statSync(path.join(dir, 'snapshot-9000.json')).size).toBeGreaterThan(2 << 20);
    await expect(writeSnapshotJson(path.join(dir, 'snapshot-1.json'), manifest(1), 0o444)).rejects.toThrow(/EEXIST/);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes the whole text when a write(2) writes only part of what it was given (a disk full for a moment)', async () => {
    const dir = await tempDir();
    const probe = await fsp.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const write = proto.write;
    // Every write(2) takes at most half of what it is handed, as one does on a disk that filled up
    // and was freed again (another run's retention), or under RLIMIT_FSIZE.
    vi.spyOn(proto, 'write').mockImplementation(async function (this: FileHandle, data: unknown, ...rest: unknown[]) {
      const buf = typeof data === 'string' ? Buffer.from(data) : (data as Buffer).subarray(Number(rest[0] ?? 0), Number(rest[0] ?? 0) + Number(rest[1] ?? (data as Buffer).length));
      const part = buf.subarray(0, Math.max(1, buf.length >> 1));
      return (write as (b: Buffer) => Promise<{ bytesWritten: number; buffer: Buffer }>).call(this, part);
    } as FileHandle['write']);
    const meta = manifest(2000);
    const file = path.join(dir, 'snapshot.json');
    await writeSnapshotJson(file, meta, 0o444);
    expect(fs.readFileSync(file, 'utf8') === `${JSON.stringify(meta, null, 2)}\n`).toBe(true);
  });
});

describe('snapshot.json read piece by piece', () => {
  it('gives what JSON.parse gives, across read boundaries, compact or indented', async () => {
    const dir = await tempDir();
    const meta = manifest(9000);
    const docs: [string, string][] = [
      ['compact', JSON.stringify(meta)],
      ['empty files', JSON.stringify({ ...meta, files: [] })],
    ];
    // Shifted by 0-7 bytes: the 1 MiB read boundaries fall inside escapes, quotes and multi-byte characters.
    for (let pad = 0; pad < 8; pad++) docs.push([`indented, shifted ${pad}`, `${JSON.stringify({ ...meta, name: 'x'.repeat(pad) }, null, 2)}\n`]);
    for (const [name, text] of docs) {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, text);
      const got = await readSnapshotJson(file, keepAll);
      expect('value' in got && got.value, name).toEqual(JSON.parse(text));
      expect('value' in got && Object.keys(got.value as object), name).toEqual(Object.keys(JSON.parse(text) as object));
    }
  });

  it('reads a string whose escaped quote or escaped backslash is split by a read boundary', async () => {
    const dir = await tempDir();
    const MiB = 1 << 20;
    for (const tricky of ['"', '\\', '\\"']) {
      for (const where of ['notes', 'files'] as const) {
        // Placed so that the escape's backslash is the last byte of the first 1 MiB read.
        const build = (n: number): SnapshotMeta => {
          const meta = manifest(5000);
          const text = `${'x'.repeat(n)}${tricky}] "files": [ tail`;
          if (where === 'notes') meta.notes = text;
          else meta.files[1000]!.path = text;
          return meta;
        };
        const probe = `${JSON.stringify(build(0), null, 2)}\n`;
        const at = Buffer.byteLength(probe.slice(0, probe.indexOf(`${JSON.stringify(tricky).slice(1, -1)}] \\"files`)));
        const text = `${JSON.stringify(build(MiB - 1 - at), null, 2)}\n`;
        expect(Buffer.from(text)[MiB - 1], `${where} ${tricky}`).toBe(0x5c);
        const file = path.join(dir, 'split.json');
        fs.writeFileSync(file, text);
        const got = await readSnapshotJson(file, keepAll);
        expect('value' in got && got.value, `${where} ${tricky}`).toEqual(JSON.parse(text));
      }
    }
  });

  it('checks the entries by the rule up to the first problem, keeping them or only checking them', async () => {
    const dir = await tempDir();
    const meta = manifest(9000);
    meta.files[7000]!.size = -1;
    const file = path.join(dir, 'snapshot.json');
    fs.writeFileSync(file, JSON.stringify(meta, null, 2));
    const seen: string[] = [];
    const rule = (keep: boolean): FilesRule => ({
      keep,
      check: (e) => {
        seen.push((e as ManifestEntry).path);
        return (e as ManifestEntry).size < 0 ? `${(e as ManifestEntry).path} has no valid size` : null;
      },
    });
    const kept = await readSnapshotJson(file, rule(true));
    expect(seen).toEqual(meta.files.slice(0, 7001).map((f) => f.path));
    expect(kept).toEqual({ value: JSON.parse(JSON.stringify(meta)), filesProblem: `${meta.files[7000]!.path} has no valid size` });
    seen.length = 0;
    const checked = await readSnapshotJson(file, rule(false));
    expect(seen).toHaveLength(7001);
    expect(checked).toEqual({ value: { ...JSON.parse(JSON.stringify(meta)), files: [] }, filesProblem: `${meta.files[7000]!.path} has no valid size` });
  });

  it('reads a document of another shape whole, as JSON.parse does, and names a missing or broken one', async () => {
    const dir = await tempDir();
    const write = (name: string, text: string): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const odd = {
      'files twice': '{"files": [{"a": 1}], "x": 1, "files": [{"b": 2}]}',
      'files not an array': '{"files": {"a": 1}, "id": "x"}',
      'escaped key': '{"fil\\u0065s": [{"a": 1}]}',
      'files nested only': '{"meta": {"files": [1, 2]}}',
      'an array': '[{"files": [1]}]',
    };
    for (const [name, text] of Object.entries(odd)) {
      const got = await readSnapshotJson(write(`${name}.json`, text), keepAll);
      expect(got, name).toEqual({ value: JSON.parse(text), filesProblem: null });
    }
    for (const text of ['{not json', '{"files": [{"a": 1},]}', '{"files": [{"a": 1}]} trailing', '{"files": [{"a": 1}]', '']) {
      const got = await readSnapshotJson(write('broken.json', text), keepAll);
      expect(got, text).toEqual({ problem: expect.stringMatching(/^broken\.json is not valid JSON: /) });
    }
    expect(await readSnapshotJson(path.join(dir, 'gone.json'), keepAll)).toEqual({ problem: 'gone.json is missing (unfinished or damaged)' });
  });

  it('rejects a comma with no entry beside it even where a batch of entries ends, as JSON.parse does', async () => {
    const dir = await tempDir();
    // An entry longer than a batch (64 KiB), so the scan parses the entries up to that comma on their own.
    const big = JSON.stringify({ path: `${'p'.repeat(70_000)}.json` });
    for (const text of [`{"id": "x", "files": [${big},]}`, `{"id": "x", "files": [${' '.repeat(70_000)}, ${big}]}`, `{"id": "x", "files": [${big},${' '.repeat(70_000)},{"a": 1}]}`]) {
      const file = path.join(dir, 'comma.json');
      fs.writeFileSync(file, text);
      expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
      expect(await readSnapshotJson(file, keepAll), text.replace(/p{100,}|\s{100,}/g, '...')).toEqual({ problem: expect.stringMatching(/^comma\.json is not valid JSON: /) });
    }
  });

  it('does not take a top-level key that only ends in files (an escaped quote or backslash before it) for "files"', async () => {
    const dir = await tempDir();
    for (const text of ['{"\\"files": [{"a": 1}], "id": "x"}', '{"\\\\files": [{"a": 1}], "id": "x"}']) {
      const file = path.join(dir, 'key.json');
      fs.writeFileSync(file, text);
      expect(await readSnapshotJson(file, keepAll), text).toEqual({ value: JSON.parse(text), filesProblem: null });
    }
  });
});

describe('snapshot.json edited piece by piece (a label change)', () => {
  /** What `editSnapshotJson` hands on, as text. */
  async function edited(file: string, edit: (doc: Record<string, unknown>) => void): Promise<string> {
    const out: Buffer[] = [];
    await editSnapshotJson(file, edit, async (pieces) => {
      for await (const p of pieces) out.push(Buffer.from(p));
    });
    return Buffer.concat(out).toString('utf8');
  }
  const relabel = (doc: Record<string, unknown>): void => {
    doc.name = 'best "files": [] ]';
    doc.pinned = true;
  };

  it('is JSON.stringify of the changed document, its entries copied across read boundaries', async () => {
    const dir = await tempDir();
    // 100, 101, 199: the entries are written 100 to a piece (ENTRIES_PER_PIECE).
    for (const n of [0, 1, 100, 101, 199, 9000]) {
      for (let pad = 0; pad < 3; pad++) {
        const meta = { ...manifest(n), notes: 'x'.repeat(pad) };
        const file = path.join(dir, `snapshot-${n}-${pad}.json`);
        await writeSnapshotJson(file, meta, 0o444);
        const want = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
        relabel(want);
        expect((await edited(file, relabel)) === `${JSON.stringify(want, null, 2)}\n`, `${n} entries, pad ${pad}`).toBe(true);
      }
    }
  });

  it('copies the entries as they are written, never parsing them again', async () => {
    const dir = await tempDir();
    const meta = manifest(3);
    // Entries written compact inside an indented document (as another writer might): kept compact.
    const compact = meta.files.map((f) => JSON.stringify(f)).join(',');
    const text = JSON.stringify({ ...meta, files: [] }, null, 2).replace('"files": []', `"files": [${compact}]`);
    const file = path.join(dir, 'snapshot.json');
    fs.writeFileSync(file, text);
    const got = await edited(file, relabel);
    expect(got).toContain(`"files": [${compact}]`);
    expect(JSON.parse(got)).toEqual({ ...JSON.parse(text), name: 'best "files": [] ]', pinned: true });
  });

  it('edits a document of another shape whole, and writes nothing when the edit throws', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'odd.json');
    fs.writeFileSync(file, '{"files": {"a": 1}, "id": "x"}');
    expect(await edited(file, relabel)).toBe(`${JSON.stringify({ files: { a: 1 }, id: 'x', name: 'best "files": [] ]', pinned: true }, null, 2)}\n`);
    let used = false;
    await expect(
      editSnapshotJson(file, () => { throw new Error('not this record'); }, async () => { used = true; }),
    ).rejects.toThrow('not this record');
    expect(used).toBe(false);
    fs.writeFileSync(file, '[1]');
    await expect(edited(file, relabel)).rejects.toThrow(/not a JSON object/);
  });
});
