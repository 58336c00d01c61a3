import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { activityPathOf } from '../../src/daemon/run-watch.js';

const run = (include: string[], exclude: string[]): RunConfig => ({ path: '/runs/a', include, exclude }) as unknown as RunConfig;

describe('which watcher events count as activity', () => {
  const rows: { name: string; include: string[]; exclude: string[]; abs: string; rel: string | null }[] = [
    { name: 'the run folder itself', include: ['*.pt'], exclude: ['**'], abs: '/runs/a', rel: '' },
    { name: 'a path outside the run counts as the run folder', include: ['*.pt'], exclude: [], abs: '/elsewhere/x.pt', rel: '' },
    { name: 'an included file', include: ['**/*.pt'], exclude: [], abs: '/runs/a/ckpt/model.pt', rel: 'ckpt/model.pt' },
    { name: 'a file no include glob matches', include: ['**/*.pt'], exclude: [], abs: '/runs/a/train.log', rel: null },
    { name: 'a folder counts though only files are included', include: ['**/*.pt'], exclude: [], abs: '/runs/a/checkpoint-500', rel: 'checkpoint-500' },
    { name: 'an excluded file', include: ['**/*'], exclude: ['logs/**'], abs: '/runs/a/logs/events.out', rel: null },
    { name: 'an excluded folder', include: ['**/*'], exclude: ['logs'], abs: '/runs/a/logs', rel: null },
    { name: 'a dot file is matched by globs', include: ['**/*'], exclude: [], abs: '/runs/a/.hidden.json', rel: '.hidden.json' },
    { name: 'a temp file (never stored) still counts under the default include', include: ['**/*'], exclude: [], abs: '/runs/a/model.pt.tmp', rel: 'model.pt.tmp' },
    { name: 'a temp file no include glob matches does not', include: ['**/*.pt'], exclude: [], abs: '/runs/a/model.pt.tmp', rel: null },
    { name: "ckptd's own temp file is not the trainer at work", include: ['**/*'], exclude: [], abs: '/runs/a/.ckptd-tmp-.ckptd-progress.json-1a2b3c4d', rel: null },
    { name: 'a progress report is no file of the state (it asks for an evaluation of its own)', include: ['**/*'], exclude: [], abs: '/runs/a/.ckptd-progress.json', rel: null },
    { name: 'a name without an extension is taken for a folder', include: ['**/*.pt'], exclude: [], abs: '/runs/a/tmp_save', rel: 'tmp_save' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(activityPathOf(run(row.include, row.exclude))(row.abs)).toBe(row.rel);
    });
  }
});
