import { describe, expect, it } from 'vitest';
import { hotPaths, isHot, NO_BLOCKING, savingFolderOf, SKIP_AFTER_WINDOWS, trackBlocking, WARN_AFTER_WINDOWS, type Blocker, type Blocking, type BlockingState } from '../../src/policy/hot-files.js';

const SETTLE = 1000;
const log: Blocker = { path: 'train.log', reason: 'modified 100ms ago' };
const ckpt: Blocker = { path: 'ckpt.pt', reason: 'open for writing by pid 7 (python)' };
/** A file emptied moments ago: waited for up to 10 s, in one window of its own (`emptiedBlockers`). */
const emptied: Blocker = { path: 'ckpt.pt', reason: 'ckpt.pt was emptied 300ms ago', windowMs: 10 * SETTLE };

/** Looks every `everyMs` from t=0 to `untilMs`, with the blockers `at(t)` names; returns the final update's lists and state. */
function replay(at: (t: number) => Blocker[], untilMs: number, everyMs = 500) {
  let state: BlockingState = NO_BLOCKING;
  const events: string[] = [];
  for (let t = 0; t <= untilMs; t += everyMs) {
    const u = trackBlocking(state, at(t), t, SETTLE);
    for (const b of u.warned) events.push(`${t} warn ${b.path}`);
    for (const b of u.hot) events.push(`${t} hot ${b.path}`);
    for (const b of u.cleared) events.push(`${t} clear ${b.path}`);
    state = u.state;
  }
  return { state, events };
}

const warnAt = WARN_AFTER_WINDOWS * SETTLE;
const hotAt = SKIP_AFTER_WINDOWS * SETTLE;

const rows: { name: string; at: (t: number) => Blocker[]; until: number; events: string[]; hot: string[] }[] = [
  { name: 'nothing blocks: nothing to say', at: () => [], until: hotAt * 2, events: [], hot: [] },
  { name: 'a short block (a checkpoint written in 3 windows) is never reported', at: (t) => (t < 3 * SETTLE ? [ckpt] : []), until: hotAt * 2, events: [], hot: [] },
  {
    name: 'a log that never stops is reported, then left out',
    at: () => [log],
    until: hotAt,
    events: [`${warnAt} warn train.log`, `${hotAt} hot train.log`],
    hot: ['train.log'],
  },
  {
    name: 'a log that stops after being reported is cleared and captured again',
    at: (t) => (t <= warnAt ? [log] : []),
    until: hotAt,
    events: [`${warnAt} warn train.log`, `${warnAt + 500} clear train.log`],
    hot: [],
  },
  {
    name: 'one quiet look breaks the run of windows',
    at: (t) => (t === warnAt - 500 ? [] : [log]),
    until: warnAt + 1000,
    events: [],
    hot: [],
  },
  {
    name: 'a hot file cools down and is captured again',
    at: (t) => (t <= hotAt ? [log] : []),
    until: hotAt + 500,
    events: [`${warnAt} warn train.log`, `${hotAt} hot train.log`, `${hotAt + 500} clear train.log`],
    hot: [],
  },
  {
    name: 'a file emptied moments ago, waited for its 10 s (10 settle windows), is never reported nor left out',
    at: (t) => (t < 10 * SETTLE ? [emptied] : []),
    until: hotAt * 2,
    events: [],
    hot: [],
  },
  {
    name: 'a blocker with windows of its own is reported after that many of them',
    at: () => [emptied],
    until: WARN_AFTER_WINDOWS * 10 * SETTLE,
    events: [`${WARN_AFTER_WINDOWS * 10 * SETTLE} warn ckpt.pt`],
    hot: [],
  },
  {
    name: 'two blockers are tracked on their own',
    at: (t) => (t < 2 * SETTLE ? [log, ckpt] : [log]),
    until: warnAt,
    events: [`${warnAt} warn train.log`],
    hot: [],
  },
];

describe('trackBlocking', () => {
  it.each(rows)('$name', ({ at, until, events, hot }) => {
    const r = replay(at, until);
    expect(r.events).toEqual(events);
    expect(hotPaths(r.state)).toEqual(hot);
  });

  it('keeps the first time a path blocked and its latest reason; does not change its input', () => {
    const s1 = trackBlocking(NO_BLOCKING, [log], 10, SETTLE).state;
    const frozen = structuredClone(s1);
    const s2 = trackBlocking(s1, [{ path: 'train.log', reason: 'open for writing by pid 9 (python)' }], 20, SETTLE).state;
    expect(s2['train.log']).toMatchObject({ since: 10, reason: 'open for writing by pid 9 (python)' });
    expect(s1).toEqual(frozen);
  });
});

describe('isHot', () => {
  const state = trackBlocking(trackBlocking(NO_BLOCKING, [{ path: 'logs', reason: 'x' }], 0, SETTLE).state, [{ path: 'logs', reason: 'x' }], hotAt, SETTLE).state;
  it.each([
    ['logs', true],
    ['logs/a.txt', true],
    ['logs/deep/b.txt', true],
    ['logsx/a.txt', false],
    ['ckpt.pt', false],
  ])('%s -> %s', (rel, want) => expect(isHot(state, rel)).toBe(want));
});

describe('savingFolderOf', () => {
  const at = (path: string, lastFile?: string): Blocking => ({ path, since: 0, reason: 'r', warned: true, hot: false, ...(lastFile ? { lastFile } : {}) });
  it('finds the checkpoint folder being saved that holds a path, and nothing for the folder itself or other paths', () => {
    const list = [at('logs/train.log'), at('checkpoint-2', 'trainer_state.json'), at('checkpoint-2/optimizer.pt')];
    expect(savingFolderOf(list, 'checkpoint-2/optimizer.pt')?.path).toBe('checkpoint-2');
    expect(savingFolderOf(list, 'checkpoint-2')).toBeUndefined();
    expect(savingFolderOf(list, 'checkpoint-20/optimizer.pt')).toBeUndefined();
    expect(savingFolderOf(list, 'logs/train.log')).toBeUndefined();
  });
});
