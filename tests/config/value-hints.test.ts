/**
 * A value of the wrong type gets the hint of its own key: a duration for `settle`, a size for
 * `max_size`, a rate for `bandwidth`, the schedule grammar only for `every`.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';

const FILE = '/home/ana/train/ckptd.yaml';

function problem(runKeys: string): string {
  const r = parseConfigText(`runs:\n  - name: a\n    path: ./run\n    progress: none\n${runKeys}`, FILE, '/home/ana');
  if (!('problems' in r)) throw new Error('expected a problem, the config loaded');
  expect(r.problems).toHaveLength(1);
  return `${r.problems[0]!.keyPath}: ${r.problems[0]!.message}`;
}

describe('the hint of a wrong value fits its key', () => {
  it.each([
    ['    settle: true\n', 'runs.0.settle: true is not a duration; write a number and a unit, e.g. 500ms, 30s, 10 minutes, 2h'],
    ['    retention: {max_size: [1]}\n', 'runs.0.retention.max_size: a list is not a size; write a number and a unit, e.g. 500MB, 20GiB (or 0)'],
    ['    retention: {min_free: {a: 1}}\n', 'runs.0.retention.min_free: a mapping is not a size; write a number and a unit, e.g. 500MB, 20GiB (or 0)'],
    ['    retention: {min_age: true}\n', 'runs.0.retention.min_age: true is not a duration; write a number and a unit, e.g. 500ms, 30s, 10 minutes, 2h'],
    ['    remote: {url: s3://b/p, bandwidth: true}\n', 'runs.0.remote.bandwidth: true is not a rate; write a size per second, e.g. 50MB/s, 10MiB/s'],
    ['    remote: {url: s3://b/p, keep: {max_size: true}}\n', 'runs.0.remote.keep.max_size: true is not a size; write a number and a unit, e.g. 500MB, 20GiB (or 0)'],
    ['    backup: {every: [1]}\n', 'runs.0.backup.every: a list is not a schedule; write N epochs, N steps, N changes, a duration such as 30 minutes, always, or never'],
  ])('%j', (keys, expected) => {
    expect(problem(keys)).toBe(expected);
  });

  it('never offers a schedule for a key that is not one', () => {
    for (const keys of ['    settle: true\n', '    retention: {max_size: [1], min_free: true, min_age: [2]}\n', '    remote: {url: s3://b/p, bandwidth: {x: 1}}\n']) {
      const r = parseConfigText(`runs:\n  - name: a\n    path: ./run\n${keys}`, FILE, '/home/ana');
      expect('problems' in r && r.problems.map((p) => p.message).join('\n')).not.toMatch(/epochs|always or never/);
    }
  });
});
