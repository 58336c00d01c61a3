/**
 * Issue 11 item 14: an incomplete backup (files left out) never counts among the `keep` newest
 * that push complete backups out, is never the protected "newest good backup", and is kept or
 * rolled on its own: only while it is among the newest `keep` backups.
 */
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionItem, type RetentionPlan, type RetentionRules } from '../../src/policy/plan-retention.js';

const NOW = 1_700_000_000_000;

function item(id: string, created: number, over: Partial<RetentionItem> = {}): RetentionItem {
  return { id, kind: 'backup', pinned: false, created, damaged: false, metrics: {}, loss: null, ...over };
}
const inc = (id: string, created: number): RetentionItem => item(id, created, { incomplete: true });
const rolling = (keep: number): RetentionRules => ({ rolling: true, keep, keepBest: null });
const fate = (plan: RetentionPlan): Record<string, string> =>
  Object.fromEntries([...plan.keep.map((k) => [k.id, 'keep']), ...plan.remove.map((r) => [r.id, 'remove'])]);

const rows: { name: string; items: RetentionItem[]; rules: RetentionRules; want: Record<string, string>; newestGood: string | null }[] = [
  {
    name: 'two newer incomplete backups do not push the complete ones out of keep=2',
    items: [item('c1', 1), item('c2', 2), inc('i3', 3), inc('i4', 4)],
    rules: rolling(2),
    want: { c1: 'keep', c2: 'keep', i3: 'keep', i4: 'keep' },
    newestGood: 'c2',
  },
  {
    name: 'an incomplete backup older than the newest keep backups rolls out; complete ones roll among themselves',
    items: [item('c1', 1), inc('i2', 2), item('c3', 3), item('c4', 4), item('c5', 5)],
    rules: rolling(2),
    want: { c1: 'remove', i2: 'remove', c3: 'remove', c4: 'keep', c5: 'keep' },
    newestGood: 'c5',
  },
  {
    name: 'keep=1: the newest (incomplete) and the newest complete both stay',
    items: [item('c1', 1), item('c2', 2), inc('i3', 3)],
    rules: rolling(1),
    want: { c1: 'remove', c2: 'keep', i3: 'keep' },
    newestGood: 'c2',
  },
  {
    name: 'only incomplete backups: the newest one is kept rather than leave nothing',
    items: [inc('i1', 1), inc('i2', 2), inc('i3', 3)],
    rules: rolling(0),
    want: { i1: 'remove', i2: 'remove', i3: 'keep' },
    newestGood: null,
  },
  {
    name: 'with rolling off every backup stays',
    items: [item('c1', 1), inc('i2', 2)],
    rules: { rolling: false, keep: 1, keepBest: null },
    want: { c1: 'keep', i2: 'keep' },
    newestGood: 'c1',
  },
];

describe('planRetention with incomplete backups', () => {
  for (const row of rows) {
    it(row.name, () => {
      const plan = planRetention(row.items, row.rules, NOW);
      expect(fate(plan)).toEqual(row.want);
      const newest = plan.keep.find((k) => k.reasons.some((r) => r.code === 'newest-good'))?.id ?? null;
      expect(newest).toBe(row.newestGood);
    });
  }

  it('a size rule never spares the newest incomplete backup as "newest good", and says why an incomplete one goes', () => {
    const files = (k: string) => [{ key: k, size: 100, links: 1 }];
    const plan = planRetention(
      [item('c1', 1, { files: files('a') }), inc('i2', 2), item('c3', 3, { files: files('c') }), { ...inc('i4', 4), files: files('d') }],
      { rolling: true, keep: 1, keepBest: null, size: { maxSizeBytes: 150, freeBytesNeeded: 0, minAgeMs: 0 } },
      NOW,
    );
    expect(fate(plan)).toEqual({ c1: 'remove', i2: 'remove', c3: 'keep', i4: 'remove' });
    expect(plan.remove.find((r) => r.id === 'i2')?.reasons[0]?.text).toMatch(/^incomplete \(files were left out\), beyond rolling keep=1/);
  });
});
