/**
 * `inUse`: the snapshots the store relies on now (its newest good by id, a capture's link source)
 * stay whatever rolling, the time buckets or the size rules say, each kept with the reason given.
 */
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionItem, type RetentionRules } from '../../src/policy/plan-retention.js';

const NOW = 1_700_000_000_000;
const MB = 1 << 20;

function item(id: string, created: number): RetentionItem {
  return { id, kind: 'backup', pinned: false, created, damaged: false, metrics: {}, loss: null, files: [{ key: id, size: 10 * MB, links: 1 }] };
}
const link = { id: 'b1', why: 'the snapshot this capture links from' };

const rows: { name: string; rules: RetentionRules; want: { keep: string[]; remove: string[] } }[] = [
  { name: 'beyond rolling keep', rules: { rolling: true, keep: 1, keepBest: null, inUse: [link] }, want: { keep: ['b3', 'b1'], remove: ['b2'] } },
  {
    name: 'min_free would take the oldest first',
    rules: { rolling: false, keep: 0, keepBest: null, inUse: [link], size: { maxSizeBytes: null, freeBytesNeeded: 5 * MB, minAgeMs: 0 } },
    want: { keep: ['b3', 'b1'], remove: ['b2'] },
  },
  {
    name: 'max_size would take the oldest first',
    rules: { rolling: false, keep: 0, keepBest: null, inUse: [link], size: { maxSizeBytes: 15 * MB, freeBytesNeeded: 0, minAgeMs: 0 } },
    want: { keep: ['b3', 'b1'], remove: ['b2'] },
  },
  { name: 'none in use: the oldest rolls out', rules: { rolling: true, keep: 1, keepBest: null }, want: { keep: ['b3'], remove: ['b2', 'b1'] } },
];

describe('planRetention: snapshots in use', () => {
  it.each(rows)('$name', ({ rules, want }) => {
    const plan = planRetention([item('b1', NOW - 3000), item('b2', NOW - 2000), item('b3', NOW - 1000)], rules, NOW);
    expect({ keep: plan.keep.map((k) => k.id), remove: plan.remove.map((r) => r.id) }).toEqual(want);
    const kept = plan.keep.find((k) => k.id === 'b1');
    if (rules.inUse !== undefined) expect(kept?.reasons).toContainEqual({ code: 'in-use', text: link.why });
  });
});
