import { describe, expect, it } from 'vitest';
import { planRestore, type CurrentFile, type TargetFile } from '../../src/policy/plan-restore.js';

const t = (path: string, extra: Partial<TargetFile> = {}): TargetFile => ({ path, size: 10, sha256: 'h', mode: 0o644, mtime_ns: '100', ...extra });
const c = (path: string, extra: Partial<CurrentFile> = {}): CurrentFile => ({ path, type: 'file', size: 10, mtimeNs: '100', mode: 0o644, ...extra });

describe('planRestore', () => {
  it.each<[string, CurrentFile[], TargetFile[], { write: string[]; confirm: string[]; remove: string[]; keep?: string[] }, { path: string }[]?]>([
    ['empty run: every file is written', [], [t('a'), t('b')], { write: ['a', 'b'], confirm: [], remove: [] }],
    ['identical metadata: only confirmed by hash', [c('a')], [t('a')], { write: [], confirm: ['a'], remove: [] }],
    ['size differs', [c('a', { size: 11 })], [t('a')], { write: ['a'], confirm: [], remove: [] }],
    ['mtime differs (trainer rewrote it)', [c('a', { mtimeNs: '200000' })], [t('a')], { write: ['a'], confirm: [], remove: [] }],
    ['mtime differs below the microsecond (a restore put it back): confirmed', [c('a', { mtimeNs: '1767225600123457000' })], [t('a', { mtime_ns: '1767225600123456789' })], { write: [], confirm: ['a'], remove: [] }],
    ['mtime a microsecond off (trainer rewrote it)', [c('a', { mtimeNs: '1767225600123458000' })], [t('a', { mtime_ns: '1767225600123456789' })], { write: ['a'], confirm: [], remove: [] }],
    ['mode differs', [c('a', { mode: 0o600 })], [t('a')], { write: ['a'], confirm: [], remove: [] }],
    ['a folder-set the snapshot lacks is removed', [c('ck-1/m'), c('ck-2/m')], [t('ck-1/m')], { write: [], confirm: ['ck-1/m'], remove: ['ck-2/m'] }],
    ['a file became a symlink', [c('a', { type: 'symlink', target: 'x' })], [t('a')], { write: ['a'], confirm: [], remove: [] }],
    ['same symlink: nothing to do', [c('l', { type: 'symlink', target: 'x' })], [t('l', { type: 'symlink', target: 'x' })], { write: [], confirm: [], remove: [] }],
    ['retargeted symlink', [c('l', { type: 'symlink', target: 'y' })], [t('l', { type: 'symlink', target: 'x' })], { write: ['l'], confirm: [], remove: [] }],
    ['a file the snapshot left out is kept, another it lacks removed', [c('m'), c('train.log'), c('x')], [t('m')], { write: [], confirm: ['m'], remove: ['x'], keep: ['train.log'] }, [{ path: 'train.log' }]],
    ['a file left out that the run no longer has: nothing', [c('m')], [t('m')], { write: [], confirm: ['m'], remove: [] }, [{ path: 'gone.log' }]],
  ])('%s', (_name, current, target, want, leftOut = []) => {
    const plan = planRestore(current, target, leftOut);
    expect({ write: plan.write.map((f) => f.path), confirm: plan.confirm.map((f) => f.path), remove: plan.remove.map((f) => f.path), keep: plan.keep.map((f) => f.path) }).toEqual({ keep: [], ...want });
  });

  it('accounts for every file exactly once', () => {
    const current = [c('a'), c('b', { size: 3 }), c('c')];
    const target = [t('a'), t('b'), t('d')];
    const plan = planRestore(current, target);
    const targetSide = [...plan.write, ...plan.confirm].map((f) => f.path).sort();
    expect(targetSide).toEqual(['a', 'b', 'd']);
    expect(plan.remove.map((f) => f.path)).toEqual(['c']);
    expect(plan.keep).toEqual([]);
  });
});
