/**
 * The commit protocol is used by every writer: the folders a commit creates or renames into are
 * fsynced (their parents for new folders), and nothing is left under a temp name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runInit } from '../../src/cli/init.js';
import { installService } from '../../src/cli/install-service.js';
import type { Config } from '../../src/config/types.js';
import { commitStaged, ensureDirDurable, TargetExistsError } from '../../src/store/durable.js';
import { ensureStore } from '../../src/store/layout.js';
import { spyFsyncs, type FsyncSpy } from '../helpers/fsync-spy.js';
import { put, tempDir } from './fixtures.js';

let spy: FsyncSpy | null = null;
afterEach(() => {
  spy?.restore();
  spy = null;
});

describe('ensureStore', () => {
  it('fsyncs the parent of every folder it creates, the store folder included', async () => {
    const base = await tempDir();
    const store = path.join(base, 'a', 'store');
    spy = spyFsyncs();
    await ensureStore(store);
    expect(spy.synced).toEqual(expect.arrayContaining([base, path.join(base, 'a'), store]));
  });
});

describe('ensureDirDurable', () => {
  it('creates the missing folders outermost first, fsyncing each parent, and reports them', async () => {
    const base = await tempDir();
    spy = spyFsyncs();
    const made = await ensureDirDurable(path.join(base, 'x', 'y'), { mode: 0o700, exactMode: true });
    expect(made).toEqual([path.join(base, 'x'), path.join(base, 'x', 'y')]);
    expect(spy.synced).toEqual([base, path.join(base, 'x')]);
    expect(fs.statSync(path.join(base, 'x', 'y')).mode & 0o777).toBe(0o700);
    expect(await ensureDirDurable(path.join(base, 'x', 'y'), { mode: 0o700 })).toEqual([]);
  });
});

describe('commitStaged', () => {
  it('renames into place and fsyncs both folders', async () => {
    const base = await tempDir();
    const staged = put(base, 'stage/.ckptd-tmp-a', 'A');
    const final = path.join(base, 'dest', 'a');
    fs.mkdirSync(path.dirname(final));
    spy = spyFsyncs();
    await commitStaged(staged, final, { noReplace: true });
    expect(fs.readFileSync(final, 'utf8')).toBe('A');
    expect(fs.existsSync(staged)).toBe(false);
    expect(spy.synced).toEqual([path.join(base, 'dest'), path.join(base, 'stage')]);
  });

  it('with noReplace never replaces a file or folder already there', async () => {
    const base = await tempDir();
    put(base, 'taken', 'MINE');
    put(base, 'takendir/keep', 'MINE');
    fs.mkdirSync(path.join(base, 'emptydir'));
    const file = put(base, '.ckptd-tmp-f', 'NEW');
    fs.mkdirSync(path.join(base, '.ckptd-tmp-d'));
    await expect(commitStaged(file, path.join(base, 'taken'), { noReplace: true })).rejects.toThrow(TargetExistsError);
    await expect(commitStaged(path.join(base, '.ckptd-tmp-d'), path.join(base, 'takendir'), { noReplace: true })).rejects.toThrow(/already exists; not replacing it/);
    // rename(2) alone would replace an empty folder.
    await expect(commitStaged(path.join(base, '.ckptd-tmp-d'), path.join(base, 'emptydir'), { noReplace: true })).rejects.toThrow(TargetExistsError);
    expect(fs.readFileSync(path.join(base, 'taken'), 'utf8')).toBe('MINE');
    expect(fs.readFileSync(path.join(base, 'takendir/keep'), 'utf8')).toBe('MINE');
    expect(fs.existsSync(file)).toBe(true);
  });

  it('with deferSync leaves the folder fsyncs to the caller', async () => {
    const base = await tempDir();
    const staged = put(base, '.ckptd-tmp-a', 'A');
    const dirs = new Set<string>();
    spy = spyFsyncs();
    await commitStaged(staged, path.join(base, 'a'), { deferSync: dirs });
    expect(spy.synced).toEqual([]);
    expect([...dirs]).toEqual([base]);
  });
});

describe('the CLI writers', () => {
  it('ckptd init writes the config through the protocol: fsynced file and folder, no temp left', async () => {
    const dir = await tempDir();
    const configPath = path.join(dir, 'ckptd.yaml');
    spy = spyFsyncs();
    runInit({ dir: path.join(dir, 'run'), preset: 'hf', configPath, force: false });
    expect(spy.synced.some((p) => path.dirname(p) === dir && path.basename(p).startsWith('.ckptd-tmp-ckptd.yaml'))).toBe(true);
    expect(spy.synced).toContain(dir);
    expect(fs.readdirSync(dir)).toEqual(['ckptd.yaml']);
  });

  it('ckptd install-service writes the unit through the protocol', async () => {
    const dir = await tempDir();
    const unitDir = path.join(dir, 'units');
    spy = spyFsyncs();
    const r = installService({
      scope: 'user',
      config: { file: path.join(dir, 'ckptd.yaml'), runs: [] } as unknown as Config,
      configText: '',
      unitName: 'ckptd',
      unitDir,
      userName: 'ckptd',
      dryRun: false,
      force: false,
      nodePath: process.execPath,
      cliPath: '/opt/ckptd/main.js',
      env: { HOME: dir },
    });
    expect(r.outcome).toBe('created');
    expect(spy.synced).toContain(unitDir);
    expect(fs.readdirSync(unitDir)).toEqual(['ckptd.service']);
  });
});
