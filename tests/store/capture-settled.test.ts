/**
 * A file rewritten in place during a capture is only ever captured again once it is settled (SPEC
 * section 1): unchanged for `settle`, mtime at least `settle` old, and no process holding it open
 * for writing. A trainer that writes half a checkpoint, pauses with the file open, then writes the
 * rest, must never leave the half in a snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { findOpenWriters, type OpenWriter } from '../../src/store/open-writers.js';
import { writeSnapshot } from '../../src/store/write-snapshot.js';
import { age, put, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

/**
 * Rewrites the file in place in two halves: the first at once, then it prints `half` and holds the
 * file open until a line arrives on stdin; then the second half, close, `closed`, exit. The new
 * version has the file's size, or the size given after the file (a checkpoint that grew).
 */
const HALVES_WRITER = `
const fs = require('node:fs');
const file = process.argv[1];
const size = Number(process.argv[2] ?? fs.statSync(file).size);
const half = size >> 1;
const fd = fs.openSync(file, 'r+');
fs.writeSync(fd, Buffer.alloc(half, 2), 0, half, 0);
process.stdout.write('half\\n');
process.stdin.once('data', () => {
  fs.writeSync(fd, Buffer.alloc(size - half, 2), 0, size - half, half);
  fs.closeSync(fd);
  process.stdout.write('closed\\n');
  process.exit(0);
});
`;

const SIZE = 4 << 20;
const OLD = Buffer.alloc(SIZE, 1);
const NEW = Buffer.alloc(SIZE, 2);

let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children = [];
});

/** Starts the writer on `file` (new size `size`, default the file's); `said(word)` resolves once it printed that line. */
function startWriter(file: string, size?: number): { proc: ChildProcess; said: (word: string) => Promise<void> } {
  const proc = spawn(process.execPath, ['-e', HALVES_WRITER, file, ...(size === undefined ? [] : [String(size)])], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  let out = '';
  const waiters: { word: string; resolve: () => void }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) if (out.split('\n').includes(w.word)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  return {
    proc,
    said: (word) => (out.split('\n').includes(word) ? Promise.resolve() : new Promise((resolve) => waiters.push({ word, resolve }))),
  };
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
    writer.proc.stdin!.write('go\n');
    await writer.said('closed');

    const stored = path.join(meta.path, 'ckpt.pt');
    if (fs.existsSync(stored)) expect([sha256(OLD), sha256(NEW)]).toContain(sha256File(stored));
    expect(meta.skipped).toEqual([
      { path: 'ckpt.pt', reason: `kept changing (open for writing by pid ${writer.proc.pid} (node))` },
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
    writer!.proc.stdin!.write('go\n');
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
          writer.proc.stdin!.write('go\n');
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
