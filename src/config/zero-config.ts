/**
 * The config of `ckptd watch DIR` (SPEC section 3, zero-config defaults): everything included,
 * progress auto, a backup on every settled change, keep 5, store `<DIR's parent>/.ckptd/<basename>`.
 */
import path from 'node:path';
import { UsageError } from '../util/errors.js';
import { isInside } from '../util/paths.js';
import { DEFAULTS } from './normalize.js';
import type { Config } from './types.js';

/**
 * `dir` and `store` are absolute. Throws `UsageError` (the command line is wrong: there is no config
 * file to point at) for a store inside the run or at `/`, or the folder at `/`.
 */
export function zeroConfig(dir: string, store?: string): Config {
  const base = path.basename(dir);
  const name = base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  // The folder's own name (SPEC section 3), not the run name made of it: two folders whose names
  // normalize alike ("Run A" and "run-a", or any two non-Latin names: "run") must not share a store.
  const storeDir = store ?? path.join(path.dirname(dir), '.ckptd', base);
  const bad = (message: string): UsageError => new UsageError(`ckptd watch: ${message}`);
  if (dir === path.parse(dir).root) throw bad('cannot watch the file system root; name the folder the trainer writes');
  if (storeDir === path.parse(storeDir).root) throw bad('the store cannot be the file system root');
  if (isInside(storeDir, dir)) throw bad(`the store ${storeDir} is inside the watched folder ${dir}; pass --store with a folder outside it`);
  if (isInside(dir, storeDir)) throw bad(`the watched folder ${dir} is inside the store ${storeDir}; pass --store with another folder`);
  return {
    file: null,
    log: { level: 'info', file: null, format: 'text' },
    metrics: { file: null },
    runs: [
      {
        name,
        path: dir,
        store: storeDir,
        include: [...DEFAULTS.include],
        exclude: [],
        ownFiles: [],
        settleMs: 2000,
        watch: 'auto',
    priority: 'low',
        progress: { kind: 'auto' },
        modelType: null,
        backup: { every: { unit: 'changes', n: 1 }, everyText: 'always', cron: null, rolling: true, keep: 5, beforeSave: true, deleteOnFinish: false },
        save: { every: { unit: 'never' }, everyText: 'never', cron: null, files: [...DEFAULTS.saveFiles], prefix: '', to: path.join(storeDir, 'saves'), keep: null, pick: DEFAULTS.savePick },
        retention: { keepBest: null, keepHourly: 0, keepDaily: 0, keepWeekly: 0, maxSizeBytes: null, minFreeBytes: 2 ** 30, minAgeMs: 3_600_000 },
        remote: null,
      },
    ],
  };
}
