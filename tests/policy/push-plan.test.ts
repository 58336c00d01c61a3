/** The push queue's rules (issue 13): which records go up under `remote.push`, and the retry backoff. */
import { describe, expect, it } from 'vitest';
import { FIRST_RETRY_MS, MAX_RETRY_MS, planPush, retryDelayMs, type PushCandidate, type PushSetting } from '../../src/policy/push-plan.js';

const c = (id: string, kind: PushCandidate['kind'], damaged = false): PushCandidate => ({ id, kind, damaged });
const all = [c('b', 'backup'), c('m', 'manual'), c('p', 'pre-restore'), c('s', 'save'), c('d', 'backup', true)];

describe('planPush', () => {
  const rows: { push: PushSetting; remote?: string[]; queued?: string[]; explicit?: boolean; enqueue: string[] }[] = [
    { push: 'backups', enqueue: ['b', 'm', 'p'] },
    { push: 'all', enqueue: ['b', 'm', 'p', 's'] },
    { push: 'none', enqueue: [] },
    { push: 'backups', remote: ['b'], queued: ['m'], enqueue: ['p'] },
    { push: 'none', explicit: true, enqueue: ['b', 'm', 'p', 's'] },
  ];
  for (const r of rows) {
    it(`push: ${r.push}${r.explicit ? ' (named)' : ''}, remote [${r.remote ?? ''}], queued [${r.queued ?? ''}] → [${r.enqueue}]`, () => {
      const plan = planPush(all, new Set(r.remote ?? []), new Set(r.queued ?? []), r.push, r.explicit ?? false);
      expect(plan.enqueue).toEqual(r.enqueue);
      expect([...plan.enqueue, ...plan.skip.map((s) => s.id)].sort()).toEqual(all.map((x) => x.id).sort());
      expect(plan.skip.find((s) => s.id === 'd')?.code).toBe('damaged');
    });
  }

  it('does not push again what is older than the newest remote record (removed there), unless named', () => {
    const ids = [c('1', 'backup'), c('2', 'backup'), c('3', 'backup'), c('4', 'backup')];
    expect(planPush(ids, new Set(['3']), new Set(), 'backups').enqueue).toEqual(['4']);
    expect(planPush(ids, new Set(['3']), new Set(), 'backups').skip.filter((s) => s.code === 'older-than-remote').map((s) => s.id)).toEqual(['1', '2']);
    expect(planPush(ids, new Set(['3']), new Set(), 'backups', true).enqueue).toEqual(['1', '2', '4']);
  });

  it('says why each is skipped, by code', () => {
    const plan = planPush(all, new Set(['b']), new Set(['m']), 'backups');
    expect(Object.fromEntries(plan.skip.map((s) => [s.id, s.code]))).toEqual({ b: 'already-remote', m: 'already-queued', s: 'not-pushed-kind', d: 'damaged' });
  });
});

describe('retryDelayMs', () => {
  it('doubles from the first wait up to the cap, with jitter within half of it', () => {
    expect(retryDelayMs(1, 0)).toBe(FIRST_RETRY_MS / 2);
    expect(retryDelayMs(1, 0.999999)).toBeCloseTo(FIRST_RETRY_MS, -1);
    expect(retryDelayMs(2, 0)).toBe(FIRST_RETRY_MS);
    expect(retryDelayMs(3, 0.5)).toBe(FIRST_RETRY_MS * 3);
    expect(retryDelayMs(50, 1)).toBe(MAX_RETRY_MS);
    expect(retryDelayMs(50, 0)).toBe(MAX_RETRY_MS / 2);
    for (let f = 1; f < 30; f++) expect(retryDelayMs(f + 1, 0.3)).toBeGreaterThanOrEqual(retryDelayMs(f, 0.3));
  });
});
