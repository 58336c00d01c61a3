/**
 * A save's export is never left in save.to without a record, even when putting it in place fails
 * after its new name was made (the fsync of the folders fails, as on a disk reporting a write
 * error): the export and its pending record are taken back, and the error is reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

/**
 * Makes the first commit into this folder fail once the export got its new name, as a failing
 * fsync of the folders (the last step of `commitStaged`) does.
 */
const failCommitInto = { dir: null as string | null };
vi.mock('../../src/store/durable.js', async (original) => {
  const real = await original<typeof import('../../src/store/durable.js')>();
  return {
    ...real,
    commitStaged: async (staged: string, final: string, opts?: Parameters<typeof real.commitStaged>[2]) => {
      await real.commitStaged(staged, final, opts);
      if (failCommitInto.dir !== null && path.dirname(final) === failCommitInto.dir) {
        failCommitInto.dir = null;
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      }
    },
  };
});

import { listSaves } from '../../src/store/read-store.js';
import { writeSave } from '../../src/store/write-save.js';
import { runToSave, SAVE_SHAPES } from './fixtures.js';

describe('a save whose placing fails after the export got its name', () => {
  it.each(SAVE_SHAPES)('%s: no export without a record is left in save.to', async (_label, models) => {
    const { store, saveTo, opts } = await runToSave(models);
    fs.mkdirSync(saveTo);
    failCommitInto.dir = saveTo;
    await expect(writeSave(opts)).rejects.toThrow(/EIO/);
    expect(fs.readdirSync(saveTo)).toEqual([]);
    expect(await listSaves(store)).toEqual([]);
  });
});
