/**
 * The restore record (`<store>/restored.json`) lets the next backup link a restored file from the
 * restored snapshot. It must name only files that still hold exactly the bytes the restore checked:
 * a file rewritten while the restore runs (by a trainer it was forced past, or `cp -p`, `touch -r`,
 * `rsync --inplace -t`: same inode, size and mtime) must be copied by the next backup, never linked
 * to the restored bytes it no longer holds. Two moments: between the rename into place and the
 * record, and while the checked copy waits under its temp name.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** An action run once from inside the restore's fsync of the folders: after every rename, before the record. */
const afterRenames: { action: (() => void) | null } = { action: null };
vi.mock('../../src/store/durable.js', async (original) => {
  const real = await original<typeof import('../../src/store/durable.js')>();
  return {
    ...real,
    syncDirs: async (dirs: Iterable<string>) => {
      const action = afterRenames.action;
      afterRenames.action = null;
      if (action !== null) {
        // Past the clock tick of the renames, on a kernel whose file times are coarse.
        await sleep(20);
        action();
      }
      return real.syncDirs(dirs);
    },
  };
});

import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';
import { sha256, sha256File } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const MODEL = 2 << 20;

let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

/** Writes `file` with an mtime a minute back (settled). */
function write(file: string, data: string | Buffer): void {
  fs.writeFileSync(file, data);
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

/** A run with a model and a config, backed up, then the model half-rewritten (the crash). */
async function crashedRun(): Promise<{ run: RunConfig; model: string; good: SnapshotMeta }> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-restore-window-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  fs.mkdirSync(path.join(runDir, 'ckpt'), { recursive: true });
  const model = path.join(runDir, 'ckpt', 'model.bin');
  write(model, randomBytes(MODEL));
  write(path.join(runDir, 'config.json'), '{}');
  const c = zeroConfig(runDir, path.join(base, 'store')).runs[0]!;
  const run: RunConfig = { ...c, settleMs: 20, retention: { ...c.retention, minFreeBytes: 0 } };
  const good = await backup(run);
  write(model, randomBytes(MODEL));
  return { run, model, good };
}

function backup(run: RunConfig): Promise<SnapshotMeta> {
  return scanRun(run).then((entries) => captureSnapshot(run, entries, { kind: 'backup', trigger: 'test', progress: NO_PROGRESS, now: Date.now() }, quiet));
}

/** Restores `snapshot` into the run, `beforeCommit` awaited once every file is staged and checked. */
async function restore(run: RunConfig, snapshot: SnapshotMeta, beforeCommit: () => Promise<void>): Promise<void> {
  await restoreSnapshot({ run, snapshot, to: null, force: false, now: Date.now(), logger: quiet, hooks: { beforeCommit } });
}

/** Rewrites `file` in place (same inode and size) and puts its times back, as `cp -p` over it would. */
function rewriteKeepingTimes(file: string, data: Buffer): void {
  const { atime, mtime } = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, data, 0, data.length, 0);
  fs.closeSync(fd);
  fs.utimesSync(file, atime, mtime);
}

describe('a file rewritten while the restore runs', () => {
  it('after its rename into place: the next backup copies what the run holds', async () => {
    const { run, model, good } = await crashedRun();
    const other = randomBytes(MODEL);
    await restore(run, good, async () => void (afterRenames.action = () => rewriteKeepingTimes(model, other)));
    expect(afterRenames.action, 'the rewrite ran').toBeNull();
    expect(sha256File(model)).toBe(sha256(other));

    const next = await backup(run);
    expect(sha256File(path.join(next.path, 'ckpt/model.bin'))).toBe(sha256(other));
    expect(next.files.find((f) => f.path === 'ckpt/model.bin')?.sha256).toBe(sha256(other));
    expect(next.copied_bytes).toBe(MODEL);
  });

  it('under its temp name, after it was checked: the next backup copies what the run holds', async () => {
    const { run, model, good } = await crashedRun();
    const other = randomBytes(MODEL);
    await restore(run, good, async () => {
      const dir = path.dirname(model);
      const tmp = fs.readdirSync(dir).find((n) => n.startsWith('.ckptd-tmp-restore-'));
      expect(tmp, 'the staged copy').toBeDefined();
      await sleep(20);
      rewriteKeepingTimes(path.join(dir, tmp!), other);
    });
    expect(sha256File(model)).toBe(sha256(other));

    const next = await backup(run);
    expect(sha256File(path.join(next.path, 'ckpt/model.bin'))).toBe(sha256(other));
    expect(next.files.find((f) => f.path === 'ckpt/model.bin')?.sha256).toBe(sha256(other));
  });
});
