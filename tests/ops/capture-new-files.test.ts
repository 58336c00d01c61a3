/**
 * A snapshot is the state at one moment (SPEC section 1). When the trainer saves again during a
 * capture, the capture takes the changed files' new versions once they settle; the files that
 * save added are part of that same new state. A snapshot holding the new `latest` pointer of a
 * DeepSpeed-style save but not the folder it points to is no state the run ever had, and must not
 * claim to be complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import type { RunConfig } from '../../src/config/types.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import type { Logger } from '../../src/util/logger.js';
import { runAndStore, saveStep, sha256File } from '../store/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const noProgress = { epoch: null, step: null, loss: null, metrics: {}, source: null };

function runConfig(run: string, store: string): RunConfig {
  fs.mkdirSync(store, { recursive: true });
  const c = zeroConfig(run, store).runs[0]!;
  return { ...c, settleMs: 50, progress: { kind: 'none' }, retention: { ...c.retention, minFreeBytes: 0 } };
}

describe('a save made during a capture', () => {
  it('is captured whole with the pointer that names it', async () => {
    const { run, store } = await runAndStore();
    saveStep(run, 400);
    const cfg = runConfig(run, store);
    const entries = await scanRun(cfg);
    // The trainer saves step 500 between the scan and the copy: a new folder, and `latest` rewritten.
    saveStep(run, 500);
    const retry = { retries: 3, delayMs: 10 };
    const meta = await captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'test', progress: noProgress, now: Date.now(), retry }, quiet);

    const pointer = fs.readFileSync(path.join(meta.path, 'latest'), 'utf8');
    expect(pointer).toBe('step500');
    const held = meta.files.map((f) => f.path);
    const shard = 'step500/model.pt';
    expect({ held, incomplete: meta.skipped.length > 0 }).toEqual({ held: expect.arrayContaining([shard]), incomplete: false });
    expect(sha256File(path.join(meta.path, shard))).toBe(sha256File(path.join(run, shard)));
    expect(meta.files.find((f) => f.path === shard)?.sha256).toBe(sha256File(path.join(run, shard)));
  });
});
