/**
 * A trainer can write a file through memory: map it shared and writable, close the descriptor, and
 * write the pages (native code may work so). Writes to pages already dirty move
 * neither the mtime nor the ctime until the kernel writes them back, so the settled judgement must
 * see the mapping itself, as it sees a descriptor open for writing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import { judgeSettled } from '../../src/ops/settle.js';
import { scanRun } from '../../src/ops/run-actions.js';
import { findOpenWriters } from '../../src/store/open-writers.js';
import { parseSharedWritable } from '../../src/store/shared-mappings.js';
import { requireTool } from '../helpers/tools.js';
import { age, put, scanAll, tempDir } from './fixtures.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A python3 child that maps `file` shared and writable, closes its descriptor, writes a byte through the mapping, says "mapped", then keeps writing. */
function mapper(file: string): Promise<ChildProcess> {
  requireTool('python3', 'python3');
  const script = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
addr = libc.mmap(None, size, 3, 1, fd, 0)  # PROT_READ|PROT_WRITE, MAP_SHARED
if addr in (None, ctypes.c_void_p(-1).value): sys.exit('mmap failed')
os.close(fd)
page = (ctypes.c_char * size).from_address(addr)
page[0] = b'Y'
print('mapped', flush=True)
while True:
    page[1] = b'Z'
    time.sleep(0.05)
`;
  const child = spawn('python3', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`mapper exited early (${code})`)));
  });
}

describe('shared writable mappings', () => {
  it('are read from a maps text: shared and writable file mappings only, the device in decimal', () => {
    const maps = [
      '7f0000000000-7f0000100000 rw-s 00000000 fd:01 1234567                    /srv/run/ckpt/model bin.pt',
      '7f0000100000-7f0000200000 r--s 00000000 fd:01 1234568                    /srv/run/read-only.pt',
      '7f0000200000-7f0000300000 rw-p 00000000 fd:01 1234569                    /srv/run/private.pt',
      '7f0000300000-7f0000400000 rw-s 00000000 00:01 2049                       /dev/zero (deleted)',
      '7f0000400000-7f0000500000 rw-s 00000000 00:00 0 ',
      '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
      '7f0000600000-7f0000700000 rw-s 00001000 fd:01 1234567                    /srv/run/ckpt/model bin.pt',
    ].join('\n');
    expect(parseSharedWritable(maps)).toEqual([
      { target: '/srv/run/ckpt/model bin.pt', dev: '253:1', ino: 1234567 },
      { target: '/dev/zero (deleted)', dev: '0:1', ino: 2049 },
    ]);
  });

  it('hold a file back as a writer would: found by path, and the run is not settled', async () => {
    const dir = await tempDir();
    const runDir = path.join(dir, 'run');
    const model = put(runDir, 'model.bin', Buffer.alloc(8192, 1));
    put(runDir, 'config.json', '{}');
    const child = await mapper(model);
    // The file looks old and nobody holds a descriptor on it: only the mapping tells.
    age(model);
    age(path.join(runDir, 'config.json'));

    const found = await findOpenWriters([model]);
    expect(found).toContainEqual({ path: model, pid: child.pid, command: 'python3', mapped: true });

    const c = zeroConfig(runDir, path.join(dir, 'store')).runs[0]!;
    const run = { ...c, settleMs: 50 };
    const verdict = await judgeSettled(run, await scanRun(run), 0, Date.now());
    expect(verdict).toMatchObject({ settled: false, reason: expect.stringMatching(/model\.bin is open for writing by pid \d+ \(python3\), mapped into its memory/) });
    expect(fs.readFileSync(model)[0]).toBe('Y'.charCodeAt(0));
  });
  it('hold back the run\'s file when mapped under another name (a container, a bind mount)', async () => {
    const base = await tempDir();
    const runDir = path.join(base, 'run');
    const inRun = put(runDir, 'model.bin', Buffer.alloc(8192, 1));
    const other = path.join(base, 'workspace', 'model.bin');
    fs.mkdirSync(path.dirname(other));
    fs.linkSync(inRun, other);
    const child = await mapper(other);
    const files = await scanAll(runDir, path.join(base, 'store'));
    const found = await findOpenWriters([runDir], { dir: runDir, files });
    expect(found).toEqual([{ path: inRun, pid: child.pid, command: 'python3', seenAs: fs.realpathSync(other), mapped: true }]);
  });
});
