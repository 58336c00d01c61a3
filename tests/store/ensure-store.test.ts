/**
 * ensureStore: a store folder ckptd creates (and the `.ckptd` parent above it) is 0700 whatever the
 * umask, since snapshots hold the run's data; a store folder that already exists keeps its mode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureStore } from '../../src/store/layout.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-ensure-store-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fn` under `mask` (vitest runs test files in forked processes, where umask can be set). */
async function withUmask(mask: number, fn: () => Promise<void>): Promise<void> {
  const before = process.umask(mask);
  try {
    await fn();
  } finally {
    process.umask(before);
  }
}

const modeOf = (p: string): number => fs.statSync(p).mode & 0o777;

describe('ensureStore', () => {
  it.each(['000', '022', '077', '277'])('creates the store and the .ckptd folder above it 0700 under umask %s', async (umask) => {
    const mask = parseInt(umask, 8);
    const dir = tempDir();
    const store = path.join(dir, '.ckptd', 'run');
    await withUmask(mask, () => ensureStore(store));
    expect(modeOf(path.join(dir, '.ckptd')).toString(8)).toBe('700');
    expect(modeOf(store).toString(8)).toBe('700');
    expect(fs.readdirSync(store).sort()).toEqual(['.staging', 'save-records', 'snapshots']);
  });

  it('leaves the mode of a store folder and parent that already exist (how an owner shares a store)', async () => {
    const dir = tempDir();
    const parent = path.join(dir, '.ckptd');
    const store = path.join(parent, 'run');
    fs.mkdirSync(store, { recursive: true });
    fs.chmodSync(parent, 0o751);
    fs.chmodSync(store, 0o750);
    fs.chmodSync(dir, 0o755);
    await ensureStore(store);
    expect(modeOf(parent).toString(8)).toBe('751');
    expect(modeOf(store).toString(8)).toBe('750');
    expect(modeOf(dir).toString(8)).toBe('755');
  });

  it('creates only the store 0700 when its parent exists', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const store = path.join(dir, 'store');
    await withUmask(0o022, () => ensureStore(store));
    expect(modeOf(store).toString(8)).toBe('700');
    expect(modeOf(dir).toString(8)).toBe('755');
  });
});
