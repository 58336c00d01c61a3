import { describe, expect, it } from 'vitest';
import type { ProgressSpec } from '../../src/config/types.js';
import { describeProgressSource, NO_SOURCE_ADVICE } from '../../src/progress/describe-source.js';
import { NO_PROGRESS, type Progress } from '../../src/policy/types.js';

const found = (source: string, values: Partial<Progress> = {}): Progress => ({ ...NO_PROGRESS, epoch: 2, step: 1000, ...values, source });

describe('describeProgressSource', () => {
  it.each<[string, ProgressSpec, Progress, string]>([
    ['auto, a preset found', { kind: 'auto' }, found('hf', { loss: 1.6502 }), 'progress: auto found hf (epoch 2, step 1000, loss 1.65)'],
    ['auto, nothing found', { kind: 'auto' }, NO_PROGRESS, `progress: auto found nothing: ${NO_SOURCE_ADVICE}`],
    ['auto, only ckptd progress', { kind: 'auto' }, found('ckptd-progress', { epoch: null }), 'progress: auto found .ckptd-progress.json (step 1000)'],
    ['auto, both', { kind: 'auto' }, found('kohya+ckptd-progress'), 'progress: auto found kohya and .ckptd-progress.json (epoch 2, step 1000)'],
    ['a preset', { kind: 'preset', preset: 'lightning' }, found('lightning'), 'progress: lightning found lightning (epoch 2, step 1000)'],
    ['a preset finding nothing (no checkpoint yet)', { kind: 'preset', preset: 'keras' }, NO_PROGRESS, 'progress: keras found nothing yet (looked for again at every change; if it stays so, the trainer does not write what it reads)'],
    ['a file source', { kind: 'file', file: 'metrics.json', epoch: null, step: 'step', loss: null, metrics: {} }, found('file', { epoch: null }), 'progress: {file: metrics.json} found file (step 1000)'],
    ['a filename source finding nothing', { kind: 'filename', pattern: 'e(?<epoch>\\d+)' }, NO_PROGRESS, 'progress: {filename: e(?<epoch>\\d+)} found nothing yet (looked for again at every change; if it stays so, the trainer does not write what it reads)'],
    ['none', { kind: 'none' }, NO_PROGRESS, 'progress: none'],
    ['none, with ckptd progress', { kind: 'none' }, found('ckptd-progress'), 'progress: none found .ckptd-progress.json (epoch 2, step 1000)'],
  ])('%s', (_name, spec, progress, expected) => {
    expect(describeProgressSource(spec, progress)).toBe(expected);
  });

  it('tells what to write when nothing is found', () => {
    expect(NO_SOURCE_ADVICE).toContain('progress: {file: metrics.json, step: step}');
    expect(NO_SOURCE_ADVICE).toContain('ckptd progress --step N');
  });
});
