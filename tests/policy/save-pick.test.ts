/** `save.pick`: `auto` is `newest` for the trainers that write many versions, `all` otherwise; a written value is kept. */
import { describe, expect, it } from 'vitest';
import { savePickFor, type SavePick, type SavePickSetting } from '../../src/policy/save-pick.js';

const preset = (name: string) => ({ kind: 'preset', preset: name });
const AUTO = { kind: 'auto' };

describe('savePickFor', () => {
  it.each<[string, SavePickSetting, { kind: string; preset?: string }, string | null, SavePick]>([
    ['auto, progress hf', 'auto', preset('hf'), 'hf', 'newest'],
    ['auto, progress kohya that found nothing yet', 'auto', preset('kohya'), null, 'newest'],
    ['auto, progress lightning', 'auto', preset('lightning'), 'lightning', 'newest'],
    ['auto, progress onetrainer', 'auto', preset('onetrainer'), 'onetrainer+ckptd-progress', 'newest'],
    ['auto, progress keras (BackupAndRestore keeps one version)', 'auto', preset('keras'), 'keras', 'all'],
    ['auto, progress auto finding kohya', 'auto', AUTO, 'kohya', 'newest'],
    ['auto, progress auto finding hf and .ckptd-progress.json', 'auto', AUTO, 'hf+ckptd-progress', 'newest'],
    ['auto, progress auto finding keras', 'auto', AUTO, 'keras', 'all'],
    ['auto, progress auto finding only .ckptd-progress.json', 'auto', AUTO, 'ckptd-progress', 'all'],
    ['auto, progress auto finding nothing', 'auto', AUTO, null, 'all'],
    ['auto, a file source', 'auto', { kind: 'file' }, 'file', 'all'],
    ['auto, a filename source', 'auto', { kind: 'filename' }, 'filename', 'all'],
    ['auto, progress none', 'auto', { kind: 'none' }, null, 'all'],
    ['newest, a file source', 'newest', { kind: 'file' }, 'file', 'newest'],
    ['all, progress kohya', 'all', preset('kohya'), 'kohya', 'all'],
  ])('%s: %s', (_name, setting, progress, source, expected) => {
    expect(savePickFor(setting, progress, source)).toBe(expected);
  });
});
