/**
 * A label change killed (SIGKILL) before each file-system call it makes: the record is whole, the
 * old labels or the new, its manifest as it was, and after the next sweep no temp name of it is
 * left in the snapshot's folder (a manifest of 100,000 files makes a 29 MB one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { snapshotDir } from '../../src/store/layout.js';
import { readSnapshot } from '../../src/store/read-store.js';
import { buildStore, runUntilStop } from '../helpers/store-child.js';
import { put, runAndStore, snap } from './fixtures.js';

const CHILD = `
import { writeLabels } from './src/store/labels.js';
const [store, id] = process.argv.slice(2);
await writeLabels(store, id, 'backup', { name: 'new name', notes: 'new notes' });
`;

let built: string;
beforeAll(async () => {
  built = await buildStore();
});
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

describe('a label change killed at any file-system call', () => {
  it('leaves the old record or the new, whole, and nothing the sweep does not remove', async () => {
    for (let stopAt = 0; ; stopAt++) {
      const { run, store } = await runAndStore();
      for (let i = 0; i < 5; i++) put(run, `f${i}.bin`, `weights ${i}`);
      const first = await snap(run, store);

      const { stopped } = await runUntilStop(built, CHILD, [store, first.id], stopAt);
      const after = await readSnapshot(store, first.id);
      expect([after.name, after.notes], `${stopped}`).toEqual(stopped === null ? ['new name', 'new notes'] : [null, null]);
      expect(after.files, `${stopped}`).toEqual(first.files);
      await sweepStore(store);
      expect(fs.readdirSync(snapshotDir(store, first.id)).sort(), `${stopped}`).toEqual(['files', 'snapshot.json']);
      if (stopped === null) break;
    }
  });
});
