/**
 * The store's bookkeeping files (`push-queue.json`, `state.json`, `last-failure.json`) have one
 * writer, the lock holder, like the snapshots: a process that lost the lock (its lock folder
 * removed by hand, another process holding the store since) must not write them beside the new
 * holder before its next lock refresh notices. A stale push queue written over the new holder's drops the entries it queued (those
 * backups are then neither pushed nor kept for the push by retention).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enqueueForPush } from '../../src/ops/push.js';
import { EMPTY_RUN_STATE } from '../../src/policy/types.js';
import { acquireStoreLock, LockLostError } from '../../src/store/lock.js';
import { readPushQueue } from '../../src/store/push-queue-file.js';
import { writeRunState } from '../../src/store/state-file.js';
import { writeFailureNote } from '../../src/store/failure-note.js';
import { ROOT } from '../helpers/daemon-process.js';

/** A second, real process that takes the store's lock, queues `id` for push, and holds the store until killed. */
async function secondHolder(store: string, id: string): Promise<ChildProcess> {
  const script = `
import fs from 'node:fs';
import os from 'node:os';
const { acquireStoreLock } = await import(process.argv[1]);
const store = process.argv[2];
await acquireStoreLock(store, { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
fs.writeFileSync(store + '/push-queue.json', JSON.stringify({ items: [{ id: process.argv[3], queued: new Date().toISOString(), failures: 0, next_try: null, error: null, uploads: {} }], last_pushed: null }));
process.stdout.write('held\\n');
setInterval(() => undefined, 1 << 30);
`;
  // The built lock code (`npm run build`), as the daemon runs it.
  const lockModule = pathToFileURL(path.join(ROOT, 'dist', 'src', 'store', 'lock.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, lockModule, store, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('held')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the second holder exited ${code}`)));
  });
  return child;
}

describe('bookkeeping writes after the store lock is lost', () => {
  it('neither the push queue nor state.json is written beside the process that holds the store now', async () => {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-lost-books-'));
    const lock = await acquireStoreLock(store, { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
    let second: ChildProcess | null = null;
    try {
      // Removed by hand; another process takes the store and queues its own backup.
      fs.rmSync(path.join(store, 'daemon.lock'), { recursive: true });
      second = await secondHolder(store, '20260101-000000-theirs');
      const queueBefore = fs.readFileSync(path.join(store, 'push-queue.json'), 'utf8');

      await expect(enqueueForPush(store, ['20260101-000001-mine'], Date.now())).rejects.toBeInstanceOf(LockLostError);
      await expect(writeRunState(store, EMPTY_RUN_STATE)).rejects.toBeInstanceOf(LockLostError);
      const note = { since: new Date().toISOString(), at: new Date().toISOString(), attempts: 1, kind: 'error', message: 'x', retrying_at: null };
      await expect(writeFailureNote(store, note)).rejects.toBeInstanceOf(LockLostError);
      expect(fs.existsSync(path.join(store, 'last-failure.json'))).toBe(false);

      expect(fs.readFileSync(path.join(store, 'push-queue.json'), 'utf8')).toBe(queueBefore);
      expect((await readPushQueue(store)).items.map((i) => i.id)).toEqual(['20260101-000000-theirs']);
      expect(fs.existsSync(path.join(store, 'state.json'))).toBe(false);
      expect(lock.signal.aborted).toBe(true);
    } finally {
      second?.kill('SIGKILL');
      await lock.release();
      fs.rmSync(store, { recursive: true, force: true });
    }
  });
});
