/**
 * The capture's settled judgement asks what snapshots newer than the previous one knew only about
 * the few files that are empty and were modified moments ago (most captures ask nothing), asks
 * each path once however many passes judge it, and, when the question fails, holds such a file
 * back rather than store an empty version it cannot vouch for.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KnownBefore } from '../../src/policy/emptied-file.js';
import { CaptureSet } from '../../src/store/capture-set.js';
import { judgeChanged, lastKnownOnce, type SettleRule } from '../../src/store/settle-changed.js';
import { age, put, runAndStore, scanAll } from './fixtures.js';

/** The run's slots (ckpt.pt emptied 150 ms ago, settle 50 ms; old.bin with bytes) and a rule whose newer snapshots answer by `answer`. */
async function judged(answer: (paths: readonly string[]) => Promise<Map<string, KnownBefore>>): Promise<{ set: CaptureSet; rule: SettleRule; asked: string[][] }> {
  const { run, store, base } = await runAndStore();
  age(put(run, 'old.bin', 'bytes'));
  put(run, 'ckpt.pt', '');
  await new Promise((r) => setTimeout(r, 150));
  const entries = await scanAll(run, store);
  const dest = path.join(base, 'dest');
  fs.mkdirSync(dest);
  const set = new CaptureSet({ runDir: run, entries, dest, previous: null, retries: 1, retryDelayMs: 5, settleMs: 50 }, run);
  const asked: string[][] = [];
  const rule: SettleRule = {
    runReal: fs.realpathSync(run),
    settleMs: 50,
    openWriters: async () => [],
    leftOutBefore: new Set(),
    emptiedDuring: set.emptiedDuring,
    lastKnown: lastKnownOnce((paths) => {
      asked.push([...paths]);
      return answer(paths);
    }),
  };
  return { set, rule, asked };
}

const verdicts = (set: CaptureSet): [string, string | null][] => set.slots.map((s) => [s.entry.path, s.unsettled]);

describe('the emptied rule against snapshots newer than the previous one', () => {
  it('asks only about the empty, recent file, once over several passes; held with bytes there: unsettled', async () => {
    const { set, rule, asked } = await judged(async (paths) => new Map(paths.map((p) => [p, { size: 4096, leftOut: false }])));
    await judgeChanged(set.slots, true, rule);
    // The next pass, once the slot's wait of `settle` is over: judged again, not asked again.
    await new Promise((r) => setTimeout(r, 60));
    await judgeChanged(set.slots, false, rule);
    expect(asked).toEqual([['ckpt.pt']]);
    expect(verdicts(set)).toEqual([
      ['ckpt.pt', expect.stringMatching(/^emptied \d+ms ago$/)],
      ['old.bin', null],
    ]);
  });

  it('held empty or not at all there: settled', async () => {
    const { set, rule } = await judged(async (paths) => new Map(paths.map((p) => [p, { size: 0, leftOut: false }])));
    await judgeChanged(set.slots, true, rule);
    expect(verdicts(set)).toEqual([
      ['ckpt.pt', null],
      ['old.bin', null],
    ]);
  });

  it('a question that fails holds the file back as if it had bytes', async () => {
    const { set, rule } = await judged(() => Promise.reject(new Error('EIO reading snapshot.json')));
    await judgeChanged(set.slots, true, rule);
    expect(verdicts(set)).toEqual([
      ['ckpt.pt', expect.stringMatching(/^emptied \d+ms ago$/)],
      ['old.bin', null],
    ]);
  });
});
