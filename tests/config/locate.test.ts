import { describe, expect, it } from 'vitest';
import { resolveConfigPath } from '../../src/config/locate.js';

const CWD = '/work/exp';
const ENV = { HOME: '/home/ana' };

describe('resolveConfigPath (SPEC section 2 search order)', () => {
  it('uses --config first, relative to the working folder', () => {
    expect(resolveConfigPath('my.yaml', { ...ENV, CKPTD_CONFIG: '/x.yaml' }, CWD, () => false)).toEqual({ path: '/work/exp/my.yaml' });
  });

  it('then $CKPTD_CONFIG', () => {
    expect(resolveConfigPath(undefined, { ...ENV, CKPTD_CONFIG: '/etc/other.yaml' }, CWD, () => true)).toEqual({ path: '/etc/other.yaml' });
  });

  it.each([
    [['/work/exp/ckptd.yaml', '/home/ana/.config/ckptd/config.yaml'], '/work/exp/ckptd.yaml'],
    [['/home/ana/.config/ckptd/config.yaml', '/etc/ckptd/config.yaml'], '/home/ana/.config/ckptd/config.yaml'],
    [['/etc/ckptd/config.yaml'], '/etc/ckptd/config.yaml'],
  ])('then ./ckptd.yaml, the XDG config, /etc: with %j present picks %s', (present, want) => {
    expect(resolveConfigPath(undefined, ENV, CWD, (p) => present.includes(p))).toEqual({ path: want });
  });

  it('honours $XDG_CONFIG_HOME', () => {
    const r = resolveConfigPath(undefined, { ...ENV, XDG_CONFIG_HOME: '/cfg' }, CWD, (p) => p === '/cfg/ckptd/config.yaml');
    expect(r).toEqual({ path: '/cfg/ckptd/config.yaml' });
  });

  it('names every place it tried when none exists', () => {
    expect(resolveConfigPath(undefined, ENV, CWD, () => false)).toEqual({
      tried: ['/work/exp/ckptd.yaml', '/home/ana/.config/ckptd/config.yaml', '/etc/ckptd/config.yaml'],
    });
  });
});
