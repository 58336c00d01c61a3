/**
 * A holder in another PID namespace on the same host name (two containers sharing the host's name,
 * e.g. `docker run --network host`, both mounting the store): its recorded pid means nothing here.
 * Judged by that pid (gone here, or another process's), a live holder looked dead and a second
 * process took over the store while the first still wrote. It is judged as a holder of another
 * host is: alive while it keeps the lock fresh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireStoreLock, readLockHolder, StoreLockedError } from '../../src/store/lock.js';
import { ROOT } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

/** `unshare` into a new user + PID namespace (no root needed where user namespaces are allowed). */
function unshareArgs(): string[] {
  const args = ['-r', '--pid', '--fork', '--kill-child', '--mount-proc'];
  const probe = spawnSync('unshare', [...args, 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`this test needs \`unshare ${args.join(' ')}\` (util-linux, user namespaces): ${probe.stderr || probe.error?.message}`);
  return args;
}

/** Runs the built lock code in a new PID namespace: it takes `store`'s lock, prints its pid there, and holds it until killed. */
async function holderInOtherNamespace(store: string): Promise<{ child: ChildProcess; pid: number }> {
  const script = `
import os from 'node:os';
const { acquireStoreLock } = await import(process.argv[1]);
await acquireStoreLock(process.argv[2], { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
process.stdout.write('held ' + process.pid + '\\n');
setInterval(() => undefined, 1 << 30);
`;
  const lockModule = pathToFileURL(path.join(ROOT, 'dist', 'src', 'store', 'lock.js')).href;
  const child = spawn('unshare', [...unshareArgs(), process.execPath, '--input-type=module', '-e', script, lockModule, store], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /held (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the holder exited ${code}`)));
  });
  return { child, pid };
}

describe('a lock holder in another PID namespace', () => {
  it('is not taken over while it lives', async () => {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-lock-pidns-'));
    cleanups.push(() => fs.rmSync(store, { recursive: true, force: true }));
    const { pid } = await holderInOtherNamespace(store);
    // Its pid is that of its namespace: 1 or so, a process of this namespace (or none) here.
    expect(pid).toBeLessThan(10);

    expect((await readLockHolder(store))?.alive).toBe(true);
    const err = await acquireStoreLock(store, { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'snapshot' }).then(
      async (lock) => {
        await lock.release();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreLockedError);
    expect((err as Error).message).toContain(`ckptd daemon pid ${pid}`);
  });
});
