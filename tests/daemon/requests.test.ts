/**
 * CLI -> daemon requests through real files: the requester sees the progress the daemon reports
 * and its reply; a daemon at work is waited for as long as its progress moves, a silent one is
 * given up on; nothing is left in `requests/` either way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseOp, requestsDir, sendRequest, serveRequests, type RequestServer } from '../../src/daemon/requests.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function store(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-requests-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function serve(dir: string, handle: Parameters<typeof serveRequests>[1]): RequestServer {
  const errors: Error[] = [];
  const server = serveRequests(dir, handle, (e) => errors.push(e));
  cleanups.push(() => {
    server.close();
    expect(errors).toEqual([]);
  });
  return server;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const RESTORE = { type: 'op' as const, op: { kind: 'restore' as const, id: 'x', force: false, to: null } };

describe('daemon requests', () => {
  it('carry the progress of a long operation to the requester, then the reply, and leave no files', async () => {
    const dir = store();
    const seen: [number, number][] = [];
    serve(dir, async (req, progress) => {
      expect(req.type).toBe('op');
      // Each step waits until the requester has heard it (or a later one): the newest value must
      // always arrive, however the writes are throttled and sampled.
      for (let done = 0; done <= 1000; done += 250) {
        progress(done, 1000);
        await waitUntil(() => seen.some(([d]) => d >= done), `the requester to hear progress ${done}/1000`);
      }
      return { ok: true, snapshotId: 'done' };
    });
    const reply = await sendRequest(dir, RESTORE, 10_000, (done, total) => seen.push([done, total]));
    expect(reply).toEqual({ ok: true, snapshotId: 'done' });
    // Throttled and sampled, so not every step arrives; what arrives only grows, and is of the whole.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every(([, total]) => total === 1000)).toBe(true);
    expect(seen.map(([d]) => d)).toEqual([...seen.map(([d]) => d)].sort((a, b) => a - b));
    expect(fs.readdirSync(requestsDir(dir))).toEqual([]);
  });

  it('wait for a daemon whose progress moves past the timeout, and give up on a silent one', async () => {
    const dir = store();
    let calls = 0;
    let heard = 0;
    let gaveUp = false;
    let lateReplyReturned = false;
    serve(dir, async (_req, progress) => {
      calls++;
      if (calls === 1) {
        // 1.5 s of work, in steps of 100 ms (the work itself: the point is that it outlasts the
        // 700 ms timeout), each step heard by the requester before the next.
        const start = Date.now();
        for (let i = 1; Date.now() - start < 1500; i++) {
          progress(i, 100);
          await waitUntil(() => heard >= i, `the requester to hear progress ${i}`);
          await sleep(100);
        }
        return { ok: true };
      }
      // Silent until the requester has given up, then it answers (late).
      await waitUntil(() => gaveUp, 'the requester to give up', 10_000);
      lateReplyReturned = true;
      return { ok: true };
    });
    // Answered, because progress kept arriving.
    expect(await sendRequest(dir, RESTORE, 700, (done) => (heard = done))).toEqual({ ok: true });
    await expect(sendRequest(dir, RESTORE, 700)).rejects.toThrow(/did not answer within 1s/);
    gaveUp = true;
    await waitUntil(() => lateReplyReturned, 'the silent handler to return its late answer');
    // The withdrawn request is not answered late: nothing may appear while the server finishes
    // with that answer (a quiet period proves the absence, so this one is a sleep).
    await sleep(300);
    expect(fs.readdirSync(requestsDir(dir))).toEqual([]);
  });

  it('carry the remote operations whole: restore and delete keep --remote, push and pull come through', () => {
    expect(parseOp({ kind: 'restore', id: 'a', force: false, to: null, remote: true })).toEqual({ kind: 'restore', id: 'a', force: false, to: null, remote: true });
    expect(parseOp({ kind: 'delete', ids: ['a'], force: true, remote: true })).toEqual({ kind: 'delete', ids: ['a'], force: true, remote: true });
    expect(parseOp({ kind: 'restore', id: 'a', force: false, to: null })).toEqual({ kind: 'restore', id: 'a', force: false, to: null });
    expect(parseOp({ kind: 'push', ids: [] })).toEqual({ kind: 'push', ids: [] });
    expect(parseOp({ kind: 'pull', id: 'a' })).toEqual({ kind: 'pull', id: 'a' });
    expect(parseOp({ kind: 'restore', id: 'a', force: false, to: null, remote: 'yes' })).toBeNull();
    expect(parseOp({ kind: 'push', ids: [1] })).toBeNull();
  });

  it('answer a request the daemon cannot read with an error, so its sender does not wait', async () => {
    const dir = store();
    serve(dir, async () => ({ ok: true }));
    const reply = await sendRequest(dir, { type: 'op', op: { kind: 'teleport' } as never }, 10_000);
    expect(reply).toMatchObject({ ok: false, exitCode: 2 });
    expect(reply.error).toMatch(/does not understand this request/);
    expect(fs.readdirSync(requestsDir(dir))).toEqual([]);
  });
});
