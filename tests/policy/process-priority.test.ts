import { describe, expect, it } from 'vitest';
import { processPriority, type Priority } from '../../src/policy/process-priority.js';

describe('processPriority', () => {
  it.each<[string, Priority[], Priority]>([
    ['every run at the default', ['low', 'low'], 'low'],
    ['one run asking for speed', ['low', 'normal'], 'normal'],
    ['every run asking for speed', ['normal'], 'normal'],
    ['no runs', [], 'low'],
  ])('%s', (_what, runs, expected) => {
    expect(processPriority(runs.map((priority) => ({ priority })))).toBe(expected);
  });
});
