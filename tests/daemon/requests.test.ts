/**
 * CLI -> daemon requests through real files: the requester sees the progress the daemon reports
 * and its reply; a daemon at work is waited for as long as its progress moves, a silent one is
 * given up on; nothing is left in `requests/` either way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requestsDir, sendRequest, serveRequests, type RequestServer } from '../../src/daemon/requests.js';

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
    serve(dir, async (req, progress) => {
      expect(req.type).toBe('op');
      for (let done = 0; done <= 1000; done += 100) {
        progress(done, 1000);
        await sleep(60);
      }
      return { ok: true, snapshotId: 'done' };
    });
    const seen: [number, number][] = [];
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
    serve(dir, async (_req, progress) => {
      calls++;
      if (calls === 1) {
        for (let i = 1; i <= 15; i++) {
          progress(i, 15);
          await sleep(100);
        }
        return { ok: true };
      }
      await sleep(2000);
      return { ok: true };
    });
    // 1.5 s of work against a 700 ms timeout: answered, because progress kept arriving.
    expect(await sendRequest(dir, RESTORE, 700)).toEqual({ ok: true });
    await expect(sendRequest(dir, RESTORE, 700)).rejects.toThrow(/did not answer within 1s/);
    await sleep(1500);
    // The withdrawn request is not answered late.
    expect(fs.readdirSync(requestsDir(dir))).toEqual([]);
  });
});
