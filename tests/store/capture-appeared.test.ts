/**
 * `writeSnapshot` with `rescan`: a capture that took a later version of a file follows that later
 * state, and the files that appeared with it are never silently missing from a snapshot that
 * looks complete (see tests/ops/capture-new-files.test.ts for the capture through the run's rules).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { age, put, runAndStore, saveStep, scanAll, snap } from './fixtures.js';

describe('files that appear while a capture follows a later state', () => {
  it('are listed as left out when they appear on the last pass: the snapshot says it is incomplete', async () => {
    const { run, store } = await runAndStore();
    saveStep(run, 1);
    const entries = await scanAll(run, store);
    saveStep(run, 2);
    // One retry: `latest` is seen changed on the first pass and captured on the second, the last.
    const meta = await snap(run, store, { entries, rescan: () => scanAll(run, store), retries: 1, retryDelayMs: 1 });
    expect(meta.files.map((f) => f.path)).toEqual(['latest', 'step1/model.pt']);
    expect(meta.skipped).toEqual([{ path: 'step2/model.pt', reason: 'appeared during the capture' }]);
    expect(meta.incomplete).toBe(true);
  });

  it('never takes a file the caller left out as never settling', async () => {
    const { run, store } = await runAndStore();
    saveStep(run, 1);
    const entries = await scanAll(run, store);
    saveStep(run, 2);
    const hot = { path: 'step2/model.pt', reason: 'never settled' };
    const meta = await snap(run, store, { entries, rescan: () => scanAll(run, store), neverSettled: [hot], retryDelayMs: 1 });
    expect(meta.files.map((f) => f.path)).toEqual(['latest', 'step1/model.pt']);
    expect(meta.skipped).toEqual([hot]);
  });

  it('leaves out a file that took the place of a captured folder, and still commits', async () => {
    const { run, store } = await runAndStore();
    saveStep(run, 1);
    const entries = await scanAll(run, store);
    saveStep(run, 2);
    let swapped = false;
    // Right after the first consistent pass: the folder `step1` becomes a file of the same name.
    const rescan = async () => {
      if (!swapped) {
        swapped = true;
        fs.rmSync(path.join(run, 'step1'), { recursive: true });
        put(run, 'step1', 'a file now');
        age(path.join(run, 'step1'));
      }
      return scanAll(run, store);
    };
    const meta = await snap(run, store, { entries, rescan, retryDelayMs: 1 });
    expect(meta.files.map((f) => f.path)).toEqual(['latest', 'step2/model.pt']);
    expect(meta.skipped).toEqual([
      { path: 'step1', reason: 'appeared during the capture' },
      { path: 'step1/model.pt', reason: 'vanished' },
    ]);
  });
});
