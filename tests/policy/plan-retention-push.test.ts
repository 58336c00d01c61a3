/**
 * Issue 13: local rolling retention never deletes a backup that is queued for push and not yet on
 * the remote, unless a size rule (max_size, min_free) forces it, and then it says so loudly.
 */
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionItem, type RetentionPlan, type RetentionRules } from '../../src/policy/plan-retention.js';

const NOW = 1_700_000_000_000;
const MB = 1 << 20;

function item(id: string, created: number, over: Partial<RetentionItem> = {}): RetentionItem {
  return { id, kind: 'backup', pinned: false, created, damaged: false, metrics: {}, loss: null, files: [{ key: id, size: 10 * MB, links: 1 }], ...over };
}
const unpushed = (id: string, created: number, over: Partial<RetentionItem> = {}): RetentionItem => item(id, created, { awaitingPush: true, ...over });
const fate = (plan: RetentionPlan): Record<string, string> =>
  Object.fromEntries([...plan.keep.map((k) => [k.id, 'keep']), ...plan.remove.map((r) => [r.id, 'remove'])]);
const rolling = (keep: number, size?: RetentionRules['size']): RetentionRules => ({ rolling: true, keep, keepBest: null, ...(size ? { size } : {}) });

const rows: { name: string; items: RetentionItem[]; rules: RetentionRules; want: Record<string, string>; warns: RegExp | null }[] = [
  {
    name: 'a backup beyond keep that is not yet remote stays; pushed ones roll out',
    items: [unpushed('b1', 1), item('b2', 2), item('b3', 3), item('b4', 4)],
    rules: rolling(2),
    want: { b1: 'keep', b2: 'remove', b3: 'keep', b4: 'keep' },
    warns: null,
  },
  {
    name: 'a damaged backup awaiting push is not kept for it (its bytes are bad)',
    items: [unpushed('b1', 1, { damaged: true }), item('b2', 2)],
    rules: rolling(1),
    want: { b1: 'remove', b2: 'keep' },
    warns: null,
  },
  {
    name: 'max_size forces the oldest unpushed backup out, and says so',
    items: [unpushed('b1', 1), unpushed('b2', 2), item('b3', 3)],
    rules: rolling(1, { maxSizeBytes: 25 * MB, freeBytesNeeded: 0, minAgeMs: 0 }),
    want: { b1: 'remove', b2: 'keep', b3: 'keep' },
    warns: /b1 was deleted before it reached the remote/,
  },
  {
    name: 'min_free forces it too',
    items: [unpushed('b1', 1), item('b2', 2)],
    rules: rolling(1, { maxSizeBytes: null, freeBytesNeeded: 5 * MB, minAgeMs: 0 }),
    want: { b1: 'remove', b2: 'keep' },
    warns: /b1 was deleted before it reached the remote/,
  },
];

describe('planRetention with backups awaiting push', () => {
  for (const row of rows) {
    it(row.name, () => {
      const plan = planRetention(row.items, row.rules, NOW);
      expect(fate(plan)).toEqual(row.want);
      const text = plan.warnings.join('\n');
      if (row.warns) expect(text).toMatch(row.warns);
      else expect(text).not.toMatch(/remote/);
    });
  }

  it('names the reason by code', () => {
    const plan = planRetention([unpushed('b1', 1), item('b2', 2)], rolling(1), NOW);
    expect(plan.keep.find((k) => k.id === 'b1')!.reasons.map((r) => r.code)).toEqual(['awaiting-push']);
    const forced = planRetention([unpushed('b1', 1), item('b2', 2)], rolling(1, { maxSizeBytes: 15 * MB, freeBytesNeeded: 0, minAgeMs: 0 }), NOW);
    expect(forced.remove[0]!.reasons.map((r) => r.code)).toEqual(['max-size', 'overridden']);
  });
});
