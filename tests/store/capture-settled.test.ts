/**
 * A file rewritten in place during a capture is only ever captured again once it is settled (SPEC
 * section 1): unchanged for `settle`, mtime at least `settle` old, and no process holding it open
 * for writing. A trainer that writes half a checkpoint, pauses with the file open, then writes the
 * rest, must never leave the half in a snapshot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { findOpenWriters, type OpenWriter } from '../../src/store/open-writers.js';
import { writeSnapshot } from '../../src/store/write-snapshot.js';
import type { ScanEntry, SnapshotMeta } from '../../src/store/types.js';
import { startWriter, stopWriters, type HalvesWriter } from '../helpers/halves-writer.js';
import { age, put, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

const SIZE = 4 << 20;
const OLD = Buffer.alloc(SIZE, 1);
const NEW = Buffer.alloc(SIZE, 2);

afterEach(stopWriters);

/** A manual snapshot of `entries` taken while `writer` holds half of ckpt.pt's new version open; then the writer finishes. */
async function snapshotMidWrite(run: string, store: string, entries: ScanEntry[], writer: HalvesWriter): Promise<SnapshotMeta> {
  const meta = await writeSnapshot({
    store,
    runName: 'r',
    runDir: run,
    entries,
    kind: 'manual',
    trigger: 'manual',
    progress: NO_PROGRESS,
    previous: null,
    now: Date.now(),
    settleMs: 50,
    retries: 3,
    retryDelayMs: 5,
  });
  writer.go();
  await writer.said('closed');
  return meta;
}

/** ckpt.pt never stored torn: skipped for `why` (on the last pass), calm.json stored. */
async function expectHeldBack(meta: SnapshotMeta, why: string): Promise<void> {
  const stored = path.join(meta.path, 'ckpt.pt');
  if (fs.existsSync(stored)) expect([sha256(OLD), sha256(NEW)], 'a torn ckpt.pt was stored').toContain(sha256File(stored));
  expect(meta.skipped).toEqual([{ path: 'ckpt.pt', reason: `kept changing (${why})` }]);
  expect(meta.files.map((f) => f.path)).toEqual(['calm.json']);
}

describe('capture of a file rewritten in place with pauses', () => {
  it('never stores the first half while the writer holds the file open; skips it naming the writer', async () => {
    const { run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    put(run, 'calm.json', '{}');
    const entries = await scanAll(run, store);
    const writer = startWriter(ckpt);
    await writer.said('half');

    await expectHeldBack(await snapshotMidWrite(run, store, entries, writer), `open for writing by pid ${writer.proc.pid} (node)`);
  });

  it('never stores the first half while the writer holds the file open under another name (a bind mount, a container)', async () => {
    // A trainer in a container writes /workspace/out/ckpt.pt: /proc shows that path, not the run's.
    // A hard link outside the run is the same inode under a path that is not the run's.
    const { base, run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    put(run, 'calm.json', '{}');
    const other = path.join(base, 'workspace', 'ckpt.pt');
    fs.mkdirSync(path.dirname(other));
    fs.linkSync(ckpt, other);
    const entries = await scanAll(run, store);
    const writer = startWriter(other);
    await writer.said('half');
    // The half is old news by the time anyone looks: only the open file tells it is not finished.
    age(ckpt);

    await expectHeldBack(await snapshotMidWrite(run, store, entries, writer), `open for writing by pid ${writer.proc.pid} (node) as ${fs.realpathSync(other)}`);
  });

  it('never stores the first half under a second name of the file inside the run (a hard link)', async () => {
    // A "best" checkpoint kept as a hard link of the last one: writing ckpt.pt in place writes it too.
    const { run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    put(run, 'calm.json', '{}');
    const best = path.join(run, 'best.pt');
    fs.linkSync(ckpt, best);
    const entries = await scanAll(run, store);
    const writer = startWriter(ckpt);
    await writer.said('half');
    age(ckpt);

    const meta = await snapshotMidWrite(run, store, entries, writer);
    for (const name of ['best.pt', 'ckpt.pt']) {
      const stored = path.join(meta.path, name);
      if (fs.existsSync(stored)) expect([sha256(OLD), sha256(NEW)], `a torn ${name} was stored`).toContain(sha256File(stored));
    }
    const by = `open for writing by pid ${writer.proc.pid} (node)`;
    expect(meta.skipped).toEqual([
      { path: 'best.pt', reason: `kept changing (${by} as ${fs.realpathSync(ckpt)})` },
      { path: 'ckpt.pt', reason: `kept changing (${by})` },
    ]);
    expect(meta.files.map((f) => f.path)).toEqual(['calm.json']);
  });

  it('never stores a half written after the check for writers, even one that grew the file past the small-file size', async () => {
    // On a busy machine a pass over /proc takes hundreds of ms: the trainer can open the file and
    // write half of a larger checkpoint after its descriptors were looked at. That new version was
    // never judged; it must wait for the next pass (which finds the writer), not be copied at once.
    const { run, store } = await runAndStore();
    const small = Buffer.alloc(256 << 10, 1);
    const ckpt = put(run, 'ckpt.pt', small);
    age(ckpt);
    put(run, 'calm.json', '{}');
    let writer: ReturnType<typeof startWriter> | undefined;

    const meta = await snap(run, store, {
      settleMs: 50,
      retries: 3,
      retryDelayMs: 5,
      openWriters: async (paths) => {
        const found = (await findOpenWriters(paths)).filter((w) => w.pid !== process.pid);
        if (writer === undefined) {
          writer = startWriter(ckpt, SIZE);
          await writer.said('half');
        }
        return found;
      },
    });
    writer!.go();
    await writer!.said('closed');

    const stored = path.join(meta.path, 'ckpt.pt');
    if (fs.existsSync(stored)) expect([sha256(small), sha256(NEW)]).toContain(sha256File(stored));
    expect(meta.skipped).toEqual([
      { path: 'ckpt.pt', reason: `kept changing (open for writing by pid ${writer!.proc.pid} (node))` },
    ]);
    expect(meta.files.map((f) => f.path)).toEqual(['calm.json']);
  });

  it('captures the whole new version once the writer finished and the file settled', async () => {
    const { run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    const entries = await scanAll(run, store);
    const writer = startWriter(ckpt);
    await writer.said('half');

    const seen: OpenWriter[][] = [];
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
      settleMs: 50,
      retries: 5,
      retryDelayMs: 5,
      // The first time the capture finds the writer, let it write the rest and close the file.
      openWriters: async (paths) => {
        const found = (await findOpenWriters(paths)).filter((w) => w.pid !== process.pid);
        seen.push(found);
        if (found.length > 0 && seen.filter((s) => s.length > 0).length === 1) {
          writer.go();
          await writer.said('closed');
        }
        return found;
      },
    });

    expect(seen[0]).toEqual([{ path: ckpt, pid: writer.proc.pid, command: 'node' }]);
    expect(meta.skipped).toEqual([]);
    expect(sha256File(path.join(meta.path, 'ckpt.pt'))).toBe(sha256(NEW));
    expect(meta.files[0]!.sha256).toBe(sha256(NEW));
  });
});

describe('capture of a file just emptied', () => {
  // A truncating open (`open(path, 'w')`, as torch.save does) sets the size to 0 before its
  // descriptor exists; under heavy journal or writeback pressure that moment can last, with no
  // process holding the file open yet. A trainer's file emptied since the previous snapshot is a
  // write that has begun far more often than a finished version.
  it('is not stored empty while it was emptied recently: left out, the snapshot incomplete', async () => {
    const { run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    age(put(run, 'calm.json', '{}'));
    const first = await snap(run, store);
    fs.truncateSync(ckpt, 0);
    // Older than `settle`, and nobody holds it open.
    await new Promise((r) => setTimeout(r, 150));
    const meta = await snap(run, store, { previous: first, settleMs: 50, retries: 2, retryDelayMs: 5 });
    expect(meta.files.map((f) => f.path)).toEqual(['calm.json']);
    expect(meta.skipped).toEqual([{ path: 'ckpt.pt', reason: expect.stringMatching(/^kept changing \(emptied \d+ms ago\)$/) }]);
    expect(meta.incomplete).toBe(true);
  });

  it('is not stored empty when the previous snapshot left it out while it was being written', async () => {
    // The snapshot judged against left ckpt.pt out (it kept changing; an incomplete snapshot is the
    // previous one only right after a restore of it), the one before held it with bytes: an empty
    // ckpt.pt now is the next write begun, not a finished version.
    const { run, store } = await runAndStore();
    const ckpt = put(run, 'ckpt.pt', OLD);
    age(ckpt);
    age(put(run, 'calm.json', '{}'));
    const first = await snap(run, store);
    put(run, 'ckpt.pt', NEW);
    const second = await snap(run, store, { previous: first, settleMs: 60_000, retries: 0, retryDelayMs: 5 });
    expect(second.skipped.map((s) => s.path)).toEqual(['ckpt.pt']);
    fs.truncateSync(ckpt, 0);
    await new Promise((r) => setTimeout(r, 150));
    const meta = await snap(run, store, { previous: second, settleMs: 50, retries: 2, retryDelayMs: 5 });
    expect(meta.files.map((f) => f.path)).toEqual(['calm.json']);
    expect(meta.skipped).toEqual([{ path: 'ckpt.pt', reason: expect.stringMatching(/^kept changing \(emptied \d+ms ago\)$/) }]);
  });

  it('is stored once it has stayed empty that long, and a file that was empty before is stored at once', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'ckpt.pt', OLD));
    age(put(run, 'empty.marker', ''));
    const first = await snap(run, store);
    fs.truncateSync(path.join(run, 'ckpt.pt'), 0);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(run, 'ckpt.pt'), past, past);
    const meta = await snap(run, store, { previous: first, settleMs: 50 });
    expect(meta.skipped).toEqual([]);
    expect(meta.files.map((f) => [f.path, f.size])).toEqual([['ckpt.pt', 0], ['empty.marker', 0]]);
  });
});
