import { describe, expect, it } from 'vitest';
import { planRetention, reasonTexts, type RetentionItem, type RetentionPlan, type RetentionRules } from '../../src/policy/plan-retention.js';
import { seededRandom } from '../helpers/seeded.js';

const NOW = 1_700_000_000_000;

/** A good, unpinned policy backup created at `created`, overridable. */
function item(id: string, created: number, over: Partial<RetentionItem> = {}): RetentionItem {
  return { id, kind: 'backup', pinned: false, created, damaged: false, metrics: {}, loss: null, ...over };
}

const rolling = (keep: number, keepBest: RetentionRules['keepBest'] = null): RetentionRules => ({ rolling: true, keep, keepBest });

const byId = (plan: RetentionPlan): Record<string, string[]> =>
  Object.fromEntries([...plan.keep.map((k) => [k.id, ['keep', ...reasonTexts(k.reasons)]]), ...plan.remove.map((r) => [r.id, ['remove', ...reasonTexts(r.reasons)]])]);

interface Row {
  name: string;
  items: RetentionItem[];
  rules: RetentionRules;
  /** id → ['keep' | 'remove', ...reasons] for every input. */
  want: Record<string, string[]>;
}

const five = [item('b1', 1), item('b2', 2), item('b3', 3), item('b4', 4), item('b5', 5)];

const rows: Row[] = [
  { name: 'nothing to plan', items: [], rules: rolling(3), want: {} },
  {
    name: 'rolling keep=3 keeps the newest 3 good backups',
    items: five,
    rules: rolling(3),
    want: {
      b5: ['keep', 'newest good backup', 'one of the newest 3 backups (#1)'],
      b4: ['keep', 'one of the newest 3 backups (#2)'],
      b3: ['keep', 'one of the newest 3 backups (#3)'],
      b2: ['remove', 'beyond rolling keep=3'],
      b1: ['remove', 'beyond rolling keep=3'],
    },
  },
  {
    name: 'manual and pre-restore snapshots are never removed and do not count toward keep',
    items: [item('m1', 1, { kind: 'manual' }), item('p2', 2, { kind: 'pre-restore' }), item('b3', 3), item('b4', 4), item('m5', 5, { kind: 'manual' })],
    rules: rolling(1),
    want: {
      m5: ['keep', 'manual snapshots are never deleted automatically'],
      b4: ['keep', 'newest good backup', 'one of the newest 1 backups (#1)'],
      b3: ['remove', 'beyond rolling keep=1'],
      p2: ['keep', 'pre-restore snapshots are never deleted automatically'],
      m1: ['keep', 'manual snapshots are never deleted automatically'],
    },
  },
  {
    name: 'a pinned old backup is kept; a pinned newest backup carries every reason',
    items: [item('b1', 1, { pinned: true }), item('b2', 2), item('b3', 3), item('b4', 4, { pinned: true })],
    rules: rolling(2),
    want: {
      b4: ['keep', 'pinned snapshots are never deleted automatically', 'newest good backup', 'one of the newest 2 backups (#1)'],
      b3: ['keep', 'one of the newest 2 backups (#2)'],
      b2: ['remove', 'beyond rolling keep=2'],
      b1: ['keep', 'pinned snapshots are never deleted automatically'],
    },
  },
  {
    name: 'damaged backups are not good and not counted toward keep',
    items: [item('b1', 1), item('b2', 2), item('b3', 3), item('b4', 4, { damaged: true })],
    rules: rolling(2),
    want: {
      b4: ['remove', 'damaged, so not counted toward rolling keep=2'],
      b3: ['keep', 'newest good backup', 'one of the newest 2 backups (#1)'],
      b2: ['keep', 'one of the newest 2 backups (#2)'],
      b1: ['remove', 'beyond rolling keep=2'],
    },
  },
  {
    name: 'with no good backup at all the newest damaged one stays',
    items: [item('b1', 1, { damaged: true }), item('b2', 2, { damaged: true }), item('m3', 3, { kind: 'manual' })],
    rules: rolling(3),
    want: {
      m3: ['keep', 'manual snapshots are never deleted automatically'],
      b2: ['keep', 'newest backup (damaged, but there is no good backup)'],
      b1: ['remove', 'damaged, so not counted toward rolling keep=3'],
    },
  },
  {
    name: 'keep=0 still keeps the newest good backup',
    items: five.slice(0, 3),
    rules: rolling(0),
    want: { b3: ['keep', 'newest good backup'], b2: ['remove', 'beyond rolling keep=0'], b1: ['remove', 'beyond rolling keep=0'] },
  },
  {
    name: 'rolling off keeps every backup, damaged too',
    items: [item('b1', 1), item('b2', 2, { damaged: true }), item('b3', 3)],
    rules: { rolling: false, keep: 1, keepBest: null },
    want: {
      b3: ['keep', 'newest good backup', 'rolling is off'],
      b2: ['keep', 'rolling is off'],
      b1: ['keep', 'rolling is off'],
    },
  },
  {
    name: 'keep_best by loss (min) keeps an old best; missing loss is not a candidate; damaged is not either',
    items: [item('b1', 1, { loss: 0.5 }), item('b2', 2, { loss: 0.1 }), item('b3', 3), item('b4', 4, { loss: 0.05, damaged: true }), item('b5', 5, { loss: 0.9 })],
    rules: rolling(1, { metric: 'loss', mode: 'min', count: 1 }),
    want: {
      b5: ['keep', 'newest good backup', 'one of the newest 1 backups (#1)'],
      b4: ['remove', 'damaged, so not counted toward rolling keep=1'],
      b3: ['remove', 'beyond rolling keep=1'],
      b2: ['keep', 'one of the 1 best by loss (min): 0.1 (#1)'],
      b1: ['remove', 'beyond rolling keep=1'],
    },
  },
  {
    name: 'keep_best by a metric (max), ties go to the newer',
    items: [item('b1', 1, { metrics: { acc: 0.9 } }), item('b2', 2, { metrics: { acc: 0.8 } }), item('b3', 3, { metrics: { acc: 0.9 } }), item('b4', 4, { metrics: {} }), item('b5', 5)],
    rules: rolling(1, { metric: 'acc', mode: 'max', count: 2 }),
    want: {
      b5: ['keep', 'newest good backup', 'one of the newest 1 backups (#1)'],
      b4: ['remove', 'beyond rolling keep=1'],
      b3: ['keep', 'one of the 2 best by acc (max): 0.9 (#1)'],
      b2: ['remove', 'beyond rolling keep=1'],
      b1: ['keep', 'one of the 2 best by acc (max): 0.9 (#2)'],
    },
  },
  {
    name: 'keep_best ignores manual snapshots (they are kept anyway) and reads loss, not metrics.loss',
    items: [item('m1', 1, { kind: 'manual', loss: 0.01 }), item('b2', 2, { loss: 0.3, metrics: { loss: 9 } }), item('b3', 3, { loss: 0.2 }), item('b4', 4, { loss: 0.4 })],
    rules: rolling(1, { metric: 'loss', mode: 'min', count: 2 }),
    want: {
      b4: ['keep', 'newest good backup', 'one of the newest 1 backups (#1)'],
      b3: ['keep', 'one of the 2 best by loss (min): 0.2 (#1)'],
      b2: ['keep', 'one of the 2 best by loss (min): 0.3 (#2)'],
      m1: ['keep', 'manual snapshots are never deleted automatically'],
    },
  },
];

describe('planRetention', () => {
  it.each(rows)('$name', ({ items, rules, want }) => {
    const plan = planRetention(items, rules, NOW);
    expect(byId(plan)).toEqual(want);
    checkInvariants(items, rules, plan);
  });

  it('sorts newest first by created, then by id', () => {
    const plan = planRetention([item('a', 5), item('c', 5), item('b', 9), item('z', 1)], { rolling: false, keep: 3, keepBest: null }, NOW);
    expect(plan.keep.map((k) => k.id)).toEqual(['b', 'c', 'a', 'z']);
  });

  it('does not mutate its input', () => {
    const items = [item('b1', 1), item('b2', 2)];
    const copy = structuredClone(items);
    planRetention(items, rolling(1), NOW);
    expect(items).toEqual(copy);
  });

  it('holds its invariants over many generated inputs', () => {
    const rand = seededRandom(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let removedSome = 0;
    for (let n = 0; n < 2000; n++) {
      const count = Math.floor(rand() * 12);
      const items: RetentionItem[] = [];
      for (let i = 0; i < count; i++) {
        items.push(
          item(`s${i}`, Math.floor(rand() * 8), {
            kind: pick(['backup', 'backup', 'backup', 'manual', 'pre-restore'] as const),
            pinned: rand() < 0.15,
            damaged: rand() < 0.2,
            loss: rand() < 0.7 ? Math.round(rand() * 10) / 10 : null,
            metrics: rand() < 0.5 ? { acc: Math.round(rand() * 5) } : {},
          }),
        );
      }
      const rules: RetentionRules = {
        rolling: rand() < 0.85,
        keep: Math.floor(rand() * 5),
        keepBest: rand() < 0.3 ? { metric: pick(['loss', 'acc']), mode: pick(['min', 'max'] as const), count: 1 + Math.floor(rand() * 2) } : null,
      };
      const plan = planRetention(items, rules, NOW);
      checkInvariants(items, rules, plan);
      if (plan.remove.length > 0) removedSome++;
    }
    // The generator must exercise removals, or the invariants above prove little.
    expect(removedSome).toBeGreaterThan(500);
  });
});

function checkInvariants(items: RetentionItem[], rules: RetentionRules, plan: RetentionPlan): void {
  const all = [...plan.keep, ...plan.remove].map((e) => e.id);
  // keep + remove = input, each id exactly once.
  expect([...all].sort()).toEqual(items.map((s) => s.id).sort());
  const byIdMap = new Map(items.map((s) => [s.id, s]));
  const newestFirst = (xs: { id: string }[]) => {
    for (let i = 1; i < xs.length; i++) {
      const a = byIdMap.get(xs[i - 1]!.id)!;
      const b = byIdMap.get(xs[i]!.id)!;
      expect(a.created > b.created || (a.created === b.created && a.id > b.id)).toBe(true);
    }
  };
  newestFirst(plan.keep);
  newestFirst(plan.remove);
  // Every decision says why.
  for (const e of [...plan.keep, ...plan.remove]) expect(e.reasons.length).toBeGreaterThan(0);

  const kept = new Set(plan.keep.map((k) => k.id));
  // Protected kinds and pinned snapshots are never removed.
  for (const s of items) if (s.kind !== 'backup' || s.pinned) expect(kept.has(s.id), s.id).toBe(true);
  // The newest good backup is always kept.
  const good = items.filter((s) => s.kind === 'backup' && !s.damaged).sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  if (good[0]) expect(kept.has(good[0].id)).toBe(true);
  // Without rolling, nothing is removed.
  if (!rules.rolling) expect(plan.remove).toEqual([]);
  // With rolling and nothing else protecting them, exactly max(keep, 1) of the good backups are kept.
  if (rules.rolling && rules.keepBest === null) {
    const unprotected = good.filter((s) => !s.pinned);
    if (unprotected.length === good.length) {
      expect(good.filter((s) => kept.has(s.id)).length).toBe(Math.min(good.length, Math.max(rules.keep, 1)));
      expect(good.slice(0, Math.max(rules.keep, 1)).every((s) => kept.has(s.id))).toBe(true);
      // Damaged backups are not counted and, once a good one exists, not kept either.
      if (good.length > 0) for (const s of items) if (s.kind === 'backup' && s.damaged && !s.pinned) expect(kept.has(s.id)).toBe(false);
    }
  }
  // Removed snapshots are always unpinned policy backups.
  for (const r of plan.remove) {
    const s = byIdMap.get(r.id)!;
    expect(s.kind === 'backup' && !s.pinned).toBe(true);
  }
}
