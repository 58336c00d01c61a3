import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMetricArgs, validateProgressUpdate, writeProgressFile } from '../../src/cli/progress.js';
import { CKPTD_PROGRESS_FILE } from '../../src/progress/ckptd-progress-file.js';
import { UsageError } from '../../src/util/errors.js';
import { NONE, T0, progressOf, put, tempRun } from './fixtures.js';

const read = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('writeProgressFile', () => {
  it('writes .ckptd-progress.json in the run folder and returns its path', async () => {
    const run = await tempRun();
    const file = await writeProgressFile(run, { epoch: 3, step: 1200, loss: 0.41, metrics: { acc: 0.93 } }, T0);
    expect(file).toBe(path.join(run, CKPTD_PROGRESS_FILE));
    expect(read(file)).toEqual({ epoch: 3, step: 1200, loss: 0.41, metrics: { acc: 0.93 }, updated: '2025-01-01T00:00:00.000Z' });
    // Atomic write: no temp file is left behind.
    expect(fs.readdirSync(run)).toEqual([CKPTD_PROGRESS_FILE]);
  });

  it('merges into the existing file: given keys replace, missing keys stay, metrics merge', async () => {
    const run = await tempRun();
    await writeProgressFile(run, { epoch: 3, step: 1200, loss: 0.41, metrics: { acc: 0.93, lr: 1e-4 } }, T0);
    const file = await writeProgressFile(run, { step: 1300, metrics: { acc: 0.95 } }, T0 + 60_000);
    expect(read(file)).toEqual({ epoch: 3, step: 1300, loss: 0.41, metrics: { acc: 0.95, lr: 1e-4 }, updated: '2025-01-01T00:01:00.000Z' });
  });

  it('is what every progress source reads back', async () => {
    const run = await tempRun();
    await writeProgressFile(run, { epoch: 2, step: 50 }, T0);
    expect(await progressOf(run, NONE)).toEqual({ epoch: 2, step: 50, loss: null, metrics: {}, source: 'ckptd-progress' });
  });

  it('replaces a malformed existing file', async () => {
    const run = await tempRun();
    put(run, CKPTD_PROGRESS_FILE, '{"epoch": 4,');
    const file = await writeProgressFile(run, { step: 7 }, T0);
    expect(read(file)).toEqual({ epoch: null, step: 7, loss: null, metrics: {}, updated: '2025-01-01T00:00:00.000Z' });
  });

  it.each([
    [{ epoch: -1 }, /--epoch must be a finite number of at least 0/],
    [{ step: Number.NaN }, /--step must be a finite number of at least 0/],
    [{ step: Number.POSITIVE_INFINITY }, /--step/],
    [{ loss: Number.NEGATIVE_INFINITY }, /--loss must be a finite number/],
    [{ metrics: { acc: Number.NaN } }, /--metric acc must be a finite number/],
  ])('refuses %o with a UsageError and writes nothing', async (values, message) => {
    const run = await tempRun();
    const err = await writeProgressFile(run, values, T0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
    expect(fs.readdirSync(run)).toEqual([]);
  });

  it('accepts zero and fractional epochs', () => {
    expect(() => validateProgressUpdate({ epoch: 0, step: 0, loss: -0.5 })).not.toThrow();
    expect(() => validateProgressUpdate({ epoch: 1.5 })).not.toThrow();
  });

  it('fails with the path when the run folder does not exist', async () => {
    const run = await tempRun();
    const err = await writeProgressFile(path.join(run, 'missing'), { step: 1 }, T0).catch((e: unknown) => e as Error);
    // What to do, not a raw ENOENT on a temp file's name.
    expect(String(err)).toMatch(/the run folder .*missing does not exist yet.*nothing was written/);
    expect(String(err)).not.toMatch(/ENOENT|ckptd-tmp/);
  });
});

describe('parseMetricArgs', () => {
  it('parses KEY=VALUE pairs; a later key wins', () => {
    expect(parseMetricArgs(['acc=0.93', 'lr=1e-4', 'eval/loss=-1.5', 'acc=0.95'])).toEqual({ acc: 0.95, lr: 1e-4, 'eval/loss': -1.5 });
    expect(parseMetricArgs([])).toEqual({});
  });

  it.each([
    ['acc', /--metric "acc": expected KEY=VALUE/],
    ['acc=', /"" is not a finite number/],
    ['acc=high', /"high" is not a finite number/],
    ['acc=1=2', /"1=2" is not a finite number/],
    ['acc=Infinity', /"Infinity" is not a finite number/],
    ['acc=NaN', /is not a finite number/],
    ['=1', /the key before "=" is empty/],
    // `status` and `show` print metric names as they are: no terminal escapes (ESC, C1 CSI), one line.
    ['a\u001b[31mX=1', /the key holds control characters/],
    ['a\u009b31mX=1', /the key holds control characters/],
    ['two\nlines=1', /the key holds control characters/],
    [`${'k'.repeat(201)}=1`, /the key is 201 characters long; the limit is 200/],
  ])('rejects %j', (arg, message) => {
    expect(() => parseMetricArgs([arg])).toThrow(message);
    expect(() => parseMetricArgs([arg])).toThrow(UsageError);
  });
});
