/** Which failures are retried, how long between tries, and that an abort ends the loop at once. */
import { describe, expect, it } from 'vitest';
import { backoffMs, retryKind, withRetries, type RetryEvent, type RetryPolicy } from '../../../src/store/remote/retry.js';
import { seededRandom } from '../../helpers/seeded.js';

const answer = (status: number, Code?: string): object => Object.assign(new Error(Code ?? `status ${status}`), { $metadata: { httpStatusCode: status }, ...(Code === undefined ? {} : { Code, name: Code }) });
const errno = (code: string): object => Object.assign(new Error(code), { code });

describe('retryKind', () => {
  it.each([
    [answer(500, 'InternalError'), 'server'],
    [answer(502), 'server'],
    [answer(503, 'SlowDown'), 'throttled'],
    [answer(503, 'ServiceUnavailable'), 'throttled'],
    [answer(429), 'throttled'],
    [answer(400, 'RequestTimeout'), 'timeout'],
    [answer(408), 'timeout'],
    [errno('ECONNRESET'), 'network'],
    [errno('EPIPE'), 'network'],
    [errno('ECONNREFUSED'), 'network'],
    [errno('ETIMEDOUT'), 'timeout'],
    [Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }), 'timeout'],
  ])('retries %s as %s', (err, kind) => {
    expect(retryKind(err)).toBe(kind);
  });

  it.each([
    [answer(403, 'AccessDenied')],
    [answer(403, 'SignatureDoesNotMatch')],
    [answer(404, 'NoSuchKey')],
    [answer(404, 'NoSuchBucket')],
    [answer(400, 'InvalidPart')],
    [answer(412, 'PreconditionFailed')],
    [errno('ENOENT')],
    [errno('ENOSPC')],
    [errno('ENOTFOUND')],
    [new TypeError('a bug')],
    [Object.assign(new Error('aborted'), { name: 'AbortError' })],
    [null],
  ])('does not retry %s', (err) => {
    expect(retryKind(err)).toBeNull();
  });
});

describe('backoffMs', () => {
  it('stays under a ceiling that doubles from baseMs up to maxMs', () => {
    const random = seededRandom(7);
    const policy = { baseMs: 100, maxMs: 1000, random };
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffMs(attempt, policy);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }
    }
    expect(backoffMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0.5 })).toBe(400);
  });
});

describe('withRetries', () => {
  const policy = (waits: number[]): RetryPolicy => ({ attempts: 4, baseMs: 10, maxMs: 1000, random: () => 0.5, sleep: async (ms) => void waits.push(ms) });

  it('retries a retryable failure until it succeeds, reporting each retry', async () => {
    const waits: number[] = [];
    const events: RetryEvent[] = [];
    const failures = [answer(503, 'SlowDown'), errno('ECONNRESET')];
    const result = await withRetries(
      async (attempt) => {
        if (attempt < failures.length) throw failures[attempt];
        return `ok after ${attempt}`;
      },
      policy(waits),
      undefined,
      (e) => events.push(e),
    );
    expect(result).toBe('ok after 2');
    expect(waits).toEqual([5, 10]);
    expect(events.map((e) => [e.attempt, e.kind, e.delayMs])).toEqual([
      [1, 'throttled', 5],
      [2, 'network', 10],
    ]);
  });

  it('gives up after the last attempt with the last error, and never retries a 403', async () => {
    let calls = 0;
    await expect(withRetries(async () => (calls++, Promise.reject(answer(500, 'InternalError'))), policy([]))).rejects.toMatchObject({ Code: 'InternalError' });
    expect(calls).toBe(4);
    calls = 0;
    await expect(withRetries(async () => (calls++, Promise.reject(answer(403, 'AccessDenied'))), policy([]))).rejects.toMatchObject({ Code: 'AccessDenied' });
    expect(calls).toBe(1);
  });

  it('an abort during the wait between tries ends the loop with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    let calls = 0;
    const p: RetryPolicy = {
      attempts: 10,
      baseMs: 1000,
      maxMs: 1000,
      random: () => 0.5,
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          signal!.addEventListener('abort', () => reject(new Error('timer aborted')));
          controller.abort(reason);
        }),
    };
    await expect(withRetries(async () => (calls++, Promise.reject(answer(503))), p, controller.signal)).rejects.toBe(reason);
    expect(calls).toBe(1);
  });

  it('does not start when the signal already fired', async () => {
    const controller = new AbortController();
    controller.abort(new Error('already'));
    let calls = 0;
    await expect(withRetries(async () => void calls++, policy([]), controller.signal)).rejects.toThrow('already');
    expect(calls).toBe(0);
  });
});
