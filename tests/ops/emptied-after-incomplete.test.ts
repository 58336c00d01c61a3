/**
 * A file the trainer is rewriting with a truncating open (`open(path, 'w')`, torch.save) is empty
 * for a moment before any writer holds it; under journal or writeback pressure that moment can
 * outlast `settle`. The capture takes such a file for a finished version only once it has been
 * empty 10 s, when the last snapshot that saw it held it with bytes. That last snapshot may be an
 * incomplete one (a file still changing was left out): a run whose every snapshot so far is
 * incomplete, or a file new since the newest complete one, must not get an empty checkpoint stored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import type { RunConfig } from '../../src/config/types.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import type { SnapshotMeta } from '../../src/store/types.js';
import type { Logger } from '../../src/util/logger.js';
import { age, put, runAndStore } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const noProgress = { epoch: null, step: null, loss: null, metrics: {}, source: null };
const EMPTIED = { path: 'ckpt.pt', reason: expect.stringMatching(/^kept changing \(emptied \d+ms ago\)$/) as unknown as string };

function runConfig(run: string, store: string): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return { ...c, settleMs: 50, progress: { kind: 'none' }, retention: { ...c.retention, minFreeBytes: 0 } };
}

/** A backup of the run as it is; `stillChanging` names files left out as the daemon leaves out one that never settles. */
async function backup(cfg: RunConfig, stillChanging: string[] = []): Promise<SnapshotMeta> {
  const entries = (await scanRun(cfg)).filter((e) => !stillChanging.includes(e.path));
  const neverSettled = stillChanging.map((p) => ({ path: p, reason: 'kept changing (modified 5ms ago)' }));
  return captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: noProgress, now: Date.now(), neverSettled, retry: { retries: 2, delayMs: 5 } }, quiet);
}

/** ckpt.pt emptied by a truncating open, older than `settle` and held by nobody; then a backup. */
async function truncateAndBackup(cfg: RunConfig, run: string): Promise<SnapshotMeta> {
  fs.truncateSync(path.join(run, 'ckpt.pt'), 0);
  await new Promise((r) => setTimeout(r, 150));
  return backup(cfg);
}

describe('a checkpoint emptied when the newest snapshot that saw it is incomplete', () => {
  it('no complete snapshot yet: the incomplete one held it with bytes, so the empty file is not stored', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'ckpt.pt', Buffer.alloc(4096, 1)));
    age(put(run, 'train.log', 'step 1\n'));
    const cfg = runConfig(run, store);
    const first = await backup(cfg, ['train.log']);
    expect(first.files.map((f) => [f.path, f.size])).toEqual([['ckpt.pt', 4096]]);

    const meta = await truncateAndBackup(cfg, run);
    expect(meta.files.map((f) => [f.path, f.size])).toEqual([['train.log', 7]]);
    expect(meta.skipped).toEqual([EMPTIED]);
  });

  it('new since the newest complete snapshot, held with bytes by a newer incomplete one: not stored empty', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'train.log', 'step 1\n'));
    const cfg = runConfig(run, store);
    const complete = await backup(cfg);
    expect(complete.skipped).toEqual([]);
    age(put(run, 'ckpt.pt', Buffer.alloc(4096, 1)));
    const incomplete = await backup(cfg, ['train.log']);
    expect(incomplete.files.map((f) => [f.path, f.size])).toEqual([['ckpt.pt', 4096]]);

    const meta = await truncateAndBackup(cfg, run);
    expect(meta.files.map((f) => f.path)).toEqual(['train.log']);
    expect(meta.skipped).toEqual([EMPTIED]);
  });

  it('a newer incomplete snapshot that left it out (being written then): not stored empty', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'train.log', 'step 1\n'));
    const cfg = runConfig(run, store);
    await backup(cfg);
    age(put(run, 'ckpt.pt', Buffer.alloc(4096, 1)));
    const incomplete = await backup(cfg, ['ckpt.pt']);
    expect(incomplete.skipped.map((s) => s.path)).toEqual(['ckpt.pt']);

    const meta = await truncateAndBackup(cfg, run);
    expect(meta.files.map((f) => f.path)).toEqual(['train.log']);
    expect(meta.skipped).toEqual([EMPTIED]);
  });

  it('no snapshot at all: a file the scan saw with bytes, emptied before the capture copies it, is not stored empty', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'ckpt.pt', Buffer.alloc(4096, 1)));
    age(put(run, 'train.log', 'step 1\n'));
    const cfg = runConfig(run, store);
    const entries = await scanRun(cfg);
    fs.truncateSync(path.join(run, 'ckpt.pt'), 0);
    await new Promise((r) => setTimeout(r, 150));
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: noProgress, now: Date.now(), retry: { retries: 2, delayMs: 5 } }, quiet);
    expect(meta.files.map((f) => f.path)).toEqual(['train.log']);
    expect(meta.skipped).toEqual([EMPTIED]);
  });

  it('a file no snapshot saw, empty, and one the newest incomplete snapshot held empty are stored at once', async () => {
    const { run, store } = await runAndStore();
    age(put(run, 'train.log', 'step 1\n'));
    age(put(run, 'ckpt.pt', ''));
    const cfg = runConfig(run, store);
    await backup(cfg, ['train.log']);
    put(run, 'fresh.marker', '');
    const meta = await truncateAndBackup(cfg, run);
    expect(meta.skipped).toEqual([]);
    expect(meta.files.map((f) => [f.path, f.size])).toEqual([['ckpt.pt', 0], ['fresh.marker', 0], ['train.log', 7]]);
  });
});
