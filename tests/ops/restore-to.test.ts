/**
 * `restore --to DIR` writes a copy into a folder of its own: never into the run (whose restore
 * takes a pre-restore snapshot first, which --to skips), the store or save.to, nor into a folder
 * that holds one of them. Each is refused before anything is written.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { UsageError } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

describe('restore --to', () => {
  it('refuses the run, the store, save.to and any folder around them, and writes a copy elsewhere', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-to-'));
    dirs.push(base);
    const runDir = path.join(base, 'work', 'run');
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'a.txt'), 'as snapshotted');
    const c = zeroConfig(runDir, path.join(base, 'work', 'store')).runs[0]!;
    const run: RunConfig = { ...c, settleMs: 0, retention: { ...c.retention, minFreeBytes: 0 } };
    const snapshot = await captureSnapshot(run, await scanRun(run), { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
    fs.writeFileSync(path.join(runDir, 'a.txt'), 'changed since, not backed up');
    const restore = (to: string) => restoreSnapshot({ run, snapshot, to, force: true, now: Date.now(), logger: quiet });

    for (const to of [runDir, path.join(runDir, 'sub'), run.store, path.join(run.store, 'snapshots', 'x'), run.save.to, path.join(base, 'work'), base]) {
      await expect(restore(to), to).rejects.toBeInstanceOf(UsageError);
    }
    // The refusal names the place once ("the run's folder", not "the run's run folder").
    await expect(restore(runDir)).rejects.toThrow(`--to ${runDir} is the run's folder ${runDir}; restore into a folder of its own`);
    await expect(restore(run.store)).rejects.toThrow(`--to ${run.store} is the run's store ${run.store};`);
    expect(fs.readFileSync(path.join(runDir, 'a.txt'), 'utf8')).toBe('changed since, not backed up');
    expect(fs.readdirSync(path.join(run.store, 'snapshots'))).toEqual([snapshot.id]);

    const copy = path.join(base, 'copy');
    await restore(copy);
    expect(fs.readFileSync(path.join(copy, 'a.txt'), 'utf8')).toBe('as snapshotted');
  });
});
