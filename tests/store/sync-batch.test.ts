/**
 * Two captures of many small files into stores on one file system, each making its copies durable
 * with one syncfs (`sync -f`). syncfs tells a write error of the file system to the first caller
 * that asks, whoever's file failed: the other capture's syncfs then finds nothing. Neither capture
 * may then claim its copies are on disk.
 *
 * The write error is played by a stand-in `sync` (`useSyncCommandForTests`) that fails once
 * ("Input/output error", as coreutils says it), and otherwise runs the real one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureState } from '../../src/store/capture-state.js';
import { canSyncFileSystem, SyncBatch, SYNC_PATHS, useSyncCommandForTests } from '../../src/store/sync-fs.js';
import { age, put, runAndStore, scanAll, syncfsUsable, tempDir } from './fixtures.js';

const savedEnv = { PATH: process.env.PATH, SYNC_ARM: process.env.SYNC_ARM, SYNC_GO: process.env.SYNC_GO };
afterEach(() => {
  useSyncCommandForTests(undefined);
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/**
 * A `sync` that fails once armed (the call that takes `$SYNC_ARM` away), waiting first for
 * `$SYNC_GO` to exist; every other call is the real `sync`.
 */
function fakeSync(bin: string, realSync: string): void {
  fs.mkdirSync(bin);
  const script = [
    '#!/bin/sh',
    'if mv "$SYNC_ARM" "$SYNC_ARM.taken" 2>/dev/null; then',
    '  while [ ! -e "$SYNC_GO" ]; do sleep 0.01; done',
    `  echo "sync: error syncing '$3': Input/output error" >&2`,
    '  exit 1',
    'fi',
    `exec ${realSync} "$@"`,
  ].join('\n');
  fs.writeFileSync(path.join(bin, 'sync'), `${script}\n`, { mode: 0o755 });
}

function realSyncPath(): string {
  const found = SYNC_PATHS.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`no sync in ${SYNC_PATHS.join(', ')}`);
  return found;
}

describe('two captures that make their copies durable with one syncfs each, on one file system', () => {
  it('both fail when a syncfs reports a write error: the other one`s syncfs cannot see it any more', async () => {
    const { base, run, store } = await runAndStore();
    for (let i = 0; i < 1000; i++) age(put(run, `cache/shard-${i % 4}/item-${i}.json`, `{"item": ${i}}`));
    const entries = await scanAll(run, store);
    const [destA, destB] = [path.join(base, 'a'), path.join(base, 'b')];
    fs.mkdirSync(destA);
    fs.mkdirSync(destB);
    const ctl = await tempDir();
    fakeSync(path.join(ctl, 'bin'), realSyncPath());
    useSyncCommandForTests(path.join(ctl, 'bin', 'sync'));
    const arm = path.join(ctl, 'arm');
    const go = path.join(ctl, 'go');
    process.env.SYNC_ARM = arm;
    process.env.SYNC_GO = go;
    // The first look at the file system (its probe) passes; the next syncfs reports the error.
    expect(await canSyncFileSystem(destA)).toBe(syncfsUsable(destA));
    fs.writeFileSync(arm, '');

    // The failing syncfs answers only once both captures are copying (both left copies unsynced).
    const started = new Set<string>();
    const capture = (dest: string) =>
      captureState({
        runDir: run,
        entries,
        dest,
        previous: null,
        retries: 1,
        retryDelayMs: 5,
        settleMs: 0,
        onProgress: (done) => {
          if (done === 0) return;
          started.add(dest);
          if (started.size === 2) fs.writeFileSync(go, '');
        },
      });
    const got = await Promise.allSettled([capture(destA), capture(destB)]);

    if (!syncfsUsable(destA)) {
      // Each copy fsynced on its own: no syncfs, nothing to hide an error.
      expect(got.map((g) => g.status)).toEqual(['fulfilled', 'fulfilled']);
      return;
    }
    expect(fs.existsSync(`${arm}.taken`)).toBe(true);
    expect(got.map((g) => g.status)).toEqual(['rejected', 'rejected']);
    for (const g of got) expect(String((g as PromiseRejectedResult).reason)).toMatch(/Input\/output error|write error/);
  });
});

describe('the sync command', () => {
  it('is the system`s own, never one found first on PATH (`npm start` puts node_modules/.bin there)', async () => {
    const dir = await tempDir();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const ran = path.join(dir, 'ran');
    // A `sync` that syncs nothing and says all went well.
    fs.writeFileSync(path.join(bin, 'sync'), `#!/bin/sh\ntouch ${JSON.stringify(ran)}\nexit 0\n`, { mode: 0o755 });
    process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    put(dir, 'data/a.json', '{}');
    await new SyncBatch(path.join(dir, 'data')).sync();
    expect(fs.existsSync(ran)).toBe(false);
  });
});

