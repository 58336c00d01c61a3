/**
 * A file the trainer emptied moments ago (a save cut short by a crash right after its truncating
 * open) is what a restore is for: the restore puts the snapshot's version back, whole, and the
 * pre-restore snapshot still holds what was there.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { readSnapshot } from '../../src/store/read-store.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

describe('restore of a run whose checkpoint was emptied a moment ago', () => {
  it('puts every file of the snapshot back, the emptied one too', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-emptied-'));
    dirs.push(base);
    const runDir = path.join(base, 'run');
    fs.mkdirSync(runDir);
    const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
    const run = { ...c, settleMs: 50, retention: { ...c.retention, minFreeBytes: 0 } };
    const old = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'ckpt.pt', 'z.txt']) {
      fs.writeFileSync(path.join(runDir, f), `${f} as saved`);
      fs.utimesSync(path.join(runDir, f), old, old);
    }
    const snap = await captureSnapshot(run, await scanRun(run), { kind: 'manual', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet);
    // The trainer truncated ckpt.pt to write it again and died; a second later the user restores.
    fs.writeFileSync(path.join(runDir, 'a.txt'), 'a.txt changed since');
    fs.truncateSync(path.join(runDir, 'ckpt.pt'), 0);
    const aSecondAgo = new Date(Date.now() - 1000);
    for (const f of ['a.txt', 'ckpt.pt']) fs.utimesSync(path.join(runDir, f), aSecondAgo, aSecondAgo);

    const r = await restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet });

    for (const f of ['a.txt', 'ckpt.pt', 'z.txt']) expect(fs.readFileSync(path.join(runDir, f), 'utf8')).toBe(`${f} as saved`);
    const pre = await readSnapshot(run.store, r.preRestoreId!);
    expect(pre.files.find((f) => f.path === 'a.txt')?.size).toBe('a.txt changed since'.length);
  });
});
