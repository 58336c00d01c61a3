import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findOpenWriters } from '../../src/store/open-writers.js';
import { put, scanAll, tempDir } from './fixtures.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A node child that opens `file` with `flags`, says "open" on stdout, then waits to be killed. */
function holder(file: string, flags: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `require('fs').openSync(process.argv[1], process.argv[2]); console.log('open'); setInterval(() => {}, 1000);`, file, flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
}

describe.skipIf(process.platform !== 'linux')('findOpenWriters', () => {
  it('sees a process holding a file open for writing and ignores read-only opens', async () => {
    const dir = await tempDir();
    const written = put(dir, 'model.bin', 'x');
    const read = put(dir, 'config.json', '{}');
    const writer = await holder(written, 'r+');
    const reader = await holder(read, 'r');
    const found = await findOpenWriters([written, read]);
    expect(found).toContainEqual({ path: written, pid: writer.pid, command: 'node' });
    expect(found.some((w) => w.pid === reader.pid)).toBe(false);
    expect(found.some((w) => w.path === read)).toBe(false);
  });

  it('sees writers of any file under a given folder', async () => {
    const dir = await tempDir();
    const file = put(dir, 'sub/deep/opt.pt', 'x');
    const writer = await holder(file, 'a');
    const found = await findOpenWriters([dir]);
    expect(found).toContainEqual({ path: path.join(dir, 'sub/deep/opt.pt'), pid: writer.pid, command: 'node' });
  });

  it('finds nothing when nobody writes', async () => {
    const dir = await tempDir();
    const file = put(dir, 'idle.bin', 'x');
    expect(await findOpenWriters([file])).toEqual([]);
  });
});

/**
 * `run/model.bin`, the same inode as `<base>/<second>` (default `elsewhere/model.bin`, outside the
 * run), and the run's scan.
 */
async function twoNames(second = 'elsewhere/model.bin') {
  const base = await tempDir();
  const run = path.join(base, 'run');
  const inRun = put(run, 'model.bin', 'x'.repeat(1000));
  const other = path.join(base, second);
  fs.mkdirSync(path.dirname(other), { recursive: true });
  fs.linkSync(inRun, other);
  const entries = await scanAll(run, path.join(base, 'store'));
  return { base, run, inRun, other: fs.realpathSync(other), entries };
}

/**
 * A trainer in a container, or writing through a bind mount, holds the run's file open under its
 * own path (`/workspace/out/model.safetensors`): `/proc/<pid>/fd` shows that path, never the one
 * ckptd watches. A second name of the same inode outside the run (a hard link) does the same
 * without root.
 */
describe.skipIf(process.platform !== 'linux')('findOpenWriters: a run file open under another name (a bind mount, a container)', () => {
  it('reports a writer holding the file open under the other name: the run\'s path, the pid, the command and the name it uses', async () => {
    const { run, inRun, other, entries } = await twoNames();
    const writer = await holder(other, 'r+');
    const found = await findOpenWriters([run], { dir: run, files: entries });
    expect(found).toEqual([{ path: inRun, pid: writer.pid, command: 'node', seenAs: other }]);
  });

  it('reports neither a writer of an unrelated file on the same device nor a reader of the other name', async () => {
    const { base, run, inRun, other, entries } = await twoNames();
    const unrelated = put(base, 'elsewhere/train.log', 'log');
    expect(fs.statSync(unrelated).dev).toBe(fs.statSync(inRun).dev);
    const logger = await holder(unrelated, 'a');
    const reader = await holder(other, 'r');
    // The one real writer: shows that this very question looks at other names at all.
    const writer = await holder(other, 'a');
    const found = await findOpenWriters([run], { dir: run, files: entries });
    expect(found).toEqual([{ path: inRun, pid: writer.pid, command: 'node', seenAs: other }]);
    expect(found.some((w) => w.pid === logger.pid || w.pid === reader.pid)).toBe(false);
  });
});

/**
 * Two names of one file inside the run (a hard link: `cp -l`, a "best" checkpoint linked beside
 * the last one): a process writing one of them writes the other.
 */
describe.skipIf(process.platform !== 'linux')('findOpenWriters: two names of one file inside the run', () => {
  it('reports the other name too, with the name the process writes under, and the written name once, as itself', async () => {
    const { run, inRun, other: best, entries } = await twoNames('run/best/best.pt');
    const writer = await holder(inRun, 'r+');
    const found = await findOpenWriters([run], { dir: run, files: entries });
    expect(found).toHaveLength(2);
    expect(found).toContainEqual({ path: inRun, pid: writer.pid, command: 'node' });
    expect(found).toContainEqual({ path: best, pid: writer.pid, command: 'node', seenAs: fs.realpathSync(inRun) });
  });
});
