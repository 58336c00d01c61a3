import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findOpenWriters } from '../../src/store/open-writers.js';
import { put, tempDir } from './fixtures.js';

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
