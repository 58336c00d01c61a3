/**
 * The retention rules beyond rolling keep: time buckets, max_size and min_free, with golden cases
 * over a simulated year of hourly backups and property tests (fast-check) of the promises users
 * rely on: keep + remove = all, the newest good backup stays, protected kinds are never removed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention, planSaveRetention, reasonTexts, type RetentionItem, type RetentionRules } from '../../src/policy/plan-retention.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1, 0, 30); // Thursday 2026-01-01 00:30 UTC

function item(id: string, created: number, over: Partial<RetentionItem> = {}): RetentionItem {
  return { id, kind: 'backup', pinned: false, created, damaged: false, metrics: {}, loss: null, ...over };
}

const base: RetentionRules = { rolling: true, keep: 1, keepBest: null };

describe('time buckets', () => {
  it('keep_hourly keeps the newest backup of each of the last N hours that have one', () => {
    const items = [item('a', T0), item('b', T0 + 10 * 60_000), item('c', T0 + HOUR), item('d', T0 + 3 * HOUR), item('e', T0 + 3 * HOUR + 60_000)];
    const plan = planRetention(items, { ...base, keep: 1, keepHourly: 3 }, T0 + 4 * HOUR);
    expect(plan.keep.map((k) => k.id)).toEqual(['e', 'c', 'b']);
    expect(plan.keep.find((k) => k.id === 'c')!.reasons).toEqual([{ code: 'keep-hourly', text: 'newest of hour 2026-01-01T01:00Z (keep_hourly 3, #2)' }]);
    expect(plan.remove.map((r) => r.id)).toEqual(['d', 'a']);
  });

  it('weeks start on Monday (UTC)', () => {
    // 2026-01-04 is a Sunday, 2026-01-05 a Monday.
    const sun = Date.UTC(2026, 0, 4, 12);
    const mon = Date.UTC(2026, 0, 5, 12);
    const plan = planRetention([item('sun', sun), item('mon', mon)], { ...base, keep: 0, keepWeekly: 2 }, mon);
    expect(plan.keep.map((k) => reasonTexts(k.reasons).join())).toEqual(['newest good backup,newest of week of 2026-01-05 (keep_weekly 2, #1)', 'newest of week of 2025-12-29 (keep_weekly 2, #2)']);
  });

  it('golden: a year of hourly backups with restarts, pins and a clock change', () => {
    const items: RetentionItem[] = [];
    let t = T0;
    for (let h = 0; h < 365 * 24; h++) {
      t += HOUR;
      if (h % 500 === 499) continue; // daemon down for an hour now and then: a missing backup
      if (h === 4000) t -= 2 * HOUR; // the clock was set back two hours
      items.push(item(`h${String(h).padStart(5, '0')}`, t, { pinned: h === 1234, loss: (h % 97) / 100 }));
    }
    const rules: RetentionRules = { rolling: true, keep: 5, keepBest: { metric: 'loss', mode: 'min', count: 2 }, keepHourly: 24, keepDaily: 7, keepWeekly: 52 };
    const now = t;
    const plan = planRetention(items, rules, now);
    const kept = new Set(plan.keep.map((k) => k.id));
    expect(plan.keep.length + plan.remove.length).toBe(items.length);
    expect(kept.has('h01234')).toBe(true); // pinned
    // The newest 24 distinct hours, 7 days and 52 weeks, plus 5 newest, 2 best, 1 pinned, overlapping.
    expect(plan.keep.length).toBeGreaterThanOrEqual(52);
    expect(plan.keep.length).toBeLessThanOrEqual(24 + 7 + 52 + 5 + 2 + 1);
    const weekly = plan.keep.filter((k) => k.reasons.some((r) => r.code === 'keep-weekly'));
    expect(weekly).toHaveLength(52);
    // Ties of the metric go to the newer backups.
    const best = plan.keep.filter((k) => k.reasons.some((r) => r.code === 'keep-best'));
    expect(best.map((b) => b.id)).toEqual(items.filter((s) => s.loss === 0).slice(-2).map((s) => s.id).reverse());
    expect(plan.warnings).toEqual([]);
  });
});

/** Snapshots whose files are given as inode keys: 'f' (frozen, shared by all) + one weights file each. */
function sized(n: number, weights = 100, frozen = 1000, over: (i: number) => Partial<RetentionItem> = () => ({})): RetentionItem[] {
  return Array.from({ length: n }, (_, i) =>
    item(`s${i}`, T0 + i * DAY, { files: [{ key: 'frozen', size: frozen, links: n }, { key: `w${i}`, size: weights, links: 1 }], ...over(i) }),
  );
}

describe('size rules', () => {
  it('max_size removes the oldest unprotected backups until the store fits, counting shared files once', () => {
    const items = sized(10); // 1000 + 10 x 100 = 2000 bytes on disk
    const plan = planRetention(items, { rolling: false, keep: 3, keepBest: null, size: { maxSizeBytes: 1500, freeBytesNeeded: 0, minAgeMs: 0 } }, T0 + 20 * DAY);
    expect(plan.remove.map((r) => r.id)).toEqual(['s4', 's3', 's2', 's1', 's0']);
    expect(plan.keptBytes).toBe(1500);
    expect(plan.freedBytes).toBe(500);
    expect(plan.remove[0]!.reasons[0]?.text).toMatch(/over max_size 1.50 KB: oldest unprotected backup/);
  });

  it('never removes pinned, manual, keep_best, the newest good or too-young backups, and warns when it cannot fit', () => {
    const items = sized(6, 100, 1000, (i) => (i === 0 ? { pinned: true } : i === 1 ? { kind: 'manual' } : i === 2 ? { loss: 0.01 } : {}));
    const plan = planRetention(
      items,
      { rolling: true, keep: 6, keepBest: { metric: 'loss', mode: 'min', count: 1 }, size: { maxSizeBytes: 1000, freeBytesNeeded: 0, minAgeMs: 2 * DAY } },
      T0 + 5 * DAY + HOUR,
    );
    // s3 is the only backup old enough and unprotected; s4 is younger than 2 days; s5 is the newest.
    expect(plan.remove.map((r) => r.id)).toEqual(['s3']);
    expect(plan.remove[0]!.reasons).toContainEqual({ code: 'overridden', text: 'overrides: one of the newest 6 backups (#3)' });
    expect(plan.warnings[0]).toMatch(/still holds 1.50 KB, over max_size 1.00 KB/);
  });

  it('min_free: frees at least what the next snapshot needs, oldest first; a save sharing a file keeps its bytes', () => {
    const items = sized(4);
    items[0] = { ...items[0]!, files: [{ key: 'frozen', size: 1000, links: 4 }, { key: 'w0', size: 100, links: 2 }] };
    const plan = planRetention(items, { ...base, keep: 4, size: { maxSizeBytes: null, freeBytesNeeded: 150, minAgeMs: 0 } }, T0 + 10 * DAY);
    // Removing s0 frees nothing (a save links its weights), s1 frees 100: s2 goes too.
    expect(plan.remove.map((r) => r.id)).toEqual(['s2', 's1', 's0']);
    expect(plan.freedBytes).toBe(200);
    expect(plan.warnings).toEqual([]);
    // More than can be freed without touching the newest good backup: a loud warning.
    const short = planRetention(items, { ...base, keep: 4, size: { maxSizeBytes: null, freeBytesNeeded: 350, minAgeMs: 0 } }, T0 + 10 * DAY);
    expect(short.remove.map((r) => r.id)).toEqual(['s2', 's1', 's0']);
    expect(short.warnings[0]).toMatch(/only 200 B of the 350 B needed could be freed/);
  });

  it('inodes short: frees the files and folders the next snapshot needs, oldest first; a file linked from a kept one frees none', () => {
    // s0..s3: each its own folders (3 inodes) and its own weights file; all share the frozen file.
    const items = sized(4, 100, 1000, () => ({ ownInodes: 3 }));
    const rules = (inodes: number): RetentionRules => ({ ...base, keep: 4, size: { maxSizeBytes: null, freeBytesNeeded: 0, freeInodesNeeded: inodes, minAgeMs: 0 } });
    // Removing s0 frees its 3 folders and its weights file (4 inodes), not the frozen file s1..s3 still hold.
    const plan = planRetention(items, rules(4), T0 + 10 * DAY);
    expect(plan.remove.map((r) => r.id)).toEqual(['s0']);
    expect(plan.freedInodes).toBe(4);
    expect(plan.remove[0]!.reasons[0]).toEqual({ code: 'min-free-inodes', text: '4 files and folders (inodes) must be freed for the next snapshot: oldest unprotected backup' });
    expect(plan.remove[0]!.reasons).toContainEqual({ code: 'overridden', text: 'overrides: one of the newest 4 backups (#4)' });
    expect(plan.warnings).toEqual([]);
    // Every backup but the newest good one: 12 inodes at most; more is a loud warning.
    const short = planRetention(items, rules(13), T0 + 10 * DAY);
    expect(short.remove.map((r) => r.id)).toEqual(['s2', 's1', 's0']);
    expect(short.freedInodes).toBe(12);
    expect(short.warnings).toEqual(['only 12 of the 13 files and folders (inodes) needed could be freed: everything left is protected']);
    // Bytes and inodes both short: removed until both are freed.
    const both = planRetention(items, { ...base, keep: 4, size: { maxSizeBytes: null, freeBytesNeeded: 100, freeInodesNeeded: 5, minAgeMs: 0 } }, T0 + 10 * DAY);
    expect(both.remove.map((r) => r.id)).toEqual(['s1', 's0']);
    expect(both.remove.map((r) => r.reasons[0]!.code)).toEqual(['min-free-inodes', 'min-free']);
  });
});

const arbItem = (i: number) =>
  fc.record({
    kind: fc.constantFrom('backup', 'backup', 'backup', 'manual', 'pre-restore'),
    pinned: fc.boolean(),
    damaged: fc.boolean(),
    created: fc.integer({ min: 0, max: 400 * DAY }),
    loss: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
    size: fc.integer({ min: 0, max: 1000 }),
    shared: fc.boolean(),
  }).map((r): RetentionItem => ({
    id: `s${String(i).padStart(3, '0')}`,
    kind: r.kind as RetentionItem['kind'],
    pinned: r.pinned,
    damaged: r.damaged,
    created: T0 + r.created,
    metrics: {},
    loss: r.loss,
    files: [{ key: r.shared ? 'shared' : `own${i}`, size: r.shared ? 500 : r.size, links: r.shared ? 1000 : 1 }],
  }));

const arbItems = fc.integer({ min: 0, max: 25 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbItem(i))));
const arbRules = fc.record({
  rolling: fc.boolean(),
  keep: fc.integer({ min: 0, max: 6 }),
  keepBest: fc.option(fc.record({ metric: fc.constant('loss'), mode: fc.constantFrom('min' as const, 'max' as const), count: fc.integer({ min: 1, max: 3 }) }), { nil: null }),
  keepHourly: fc.integer({ min: 0, max: 5 }),
  keepDaily: fc.integer({ min: 0, max: 5 }),
  keepWeekly: fc.integer({ min: 0, max: 5 }),
  size: fc.option(fc.record({ maxSizeBytes: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }), freeBytesNeeded: fc.integer({ min: 0, max: 3000 }), freeInodesNeeded: fc.integer({ min: 0, max: 30 }), minAgeMs: fc.integer({ min: 0, max: 10 * DAY }) }), { nil: undefined }),
});

describe('retention properties', () => {
  it('keep + remove = all, each exactly once', () => {
    fc.assert(
      fc.property(arbItems, arbRules, (items, rules) => {
        const plan = planRetention([...items], rules as RetentionRules, T0 + 500 * DAY);
        expect([...plan.keep, ...plan.remove].map((e) => e.id).sort()).toEqual(items.map((s) => s.id).sort());
      }),
    );
  });

  it('the newest good backup is always kept, and protected kinds and pins are never removed', () => {
    fc.assert(
      fc.property(arbItems, arbRules, (items, rules) => {
        const plan = planRetention([...items], rules as RetentionRules, T0 + 500 * DAY);
        const removed = new Set(plan.remove.map((r) => r.id));
        const good = items.filter((s) => s.kind === 'backup' && !s.damaged).sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
        if (good[0]) expect(removed.has(good[0].id)).toBe(false);
        for (const s of items) if (s.kind !== 'backup' || s.pinned) expect(removed.has(s.id)).toBe(false);
      }),
    );
  });

  it('a size rule never removes a backup younger than the minimum age', () => {
    fc.assert(
      fc.property(arbItems, arbRules, (items, rules) => {
        const now = T0 + 500 * DAY;
        const plan = planRetention([...items], rules as RetentionRules, now);
        for (const r of plan.remove) {
          if (r.reasons[0]!.code !== 'max-size' && r.reasons[0]!.code !== 'min-free' && r.reasons[0]!.code !== 'min-free-inodes') continue;
          const s = items.find((x) => x.id === r.id)!;
          expect(now - s.created).toBeGreaterThanOrEqual(rules.size!.minAgeMs);
        }
      }),
    );
  });

  it('without size rules, freed + kept bytes account for every inode once', () => {
    fc.assert(
      fc.property(arbItems, arbRules, (items, rules) => {
        const plan = planRetention([...items], { ...(rules as RetentionRules), size: undefined }, T0 + 500 * DAY);
        const all = new Map(items.flatMap((s) => s.files ?? []).map((f) => [f.key, f.size]));
        const keptKeys = new Set(items.filter((s) => plan.keep.some((k) => k.id === s.id)).flatMap((s) => (s.files ?? []).map((f) => f.key)));
        expect(plan.keptBytes).toBe([...keptKeys].reduce((n, k) => n + all.get(k)!, 0));
      }),
    );
  });
});

describe('planSaveRetention (save.keep)', () => {
  const s = (id: string, created: number, pinned = false) => ({ id, created, pinned });
  it.each<[string, number | null, string[], string[]]>([
    ['keeps every save without save.keep', null, ['c', 'b', 'a'], []],
    ['keeps the newest N', 2, ['c', 'b'], ['a']],
    ['a pinned save stays beyond N', 1, ['c', 'a'], ['b']],
  ])('%s', (_name, keep, kept, removed) => {
    const plan = planSaveRetention([s('a', 1, keep === 1), s('b', 2), s('c', 3)], keep);
    expect(plan.keep.map((k) => k.id)).toEqual(kept);
    expect(plan.remove.map((r) => r.id)).toEqual(removed);
  });
});
