/**
 * A save killed (SIGKILL) before each file-system call it makes: after the next sweep every save
 * record names an export that is there, every export in save.to has a record, no temp name is left,
 * and a save written earlier is untouched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PROGRESS } from '../../src/policy/types.js';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { listSaves } from '../../src/store/read-store.js';
import { writeSave } from '../../src/store/write-save.js';
import { buildStore, runUntilStop } from '../helpers/store-child.js';
import { put, runAndStore, scanAll, sha256File } from './fixtures.js';

const CHILD = (files: string) => `
import { scanState } from './src/store/scan.js';
import { writeSave } from './src/store/write-save.js';
const [run, store, saveTo] = process.argv.slice(2);
const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store, saveTo] });
await writeSave({ store, saveTo, runName: 'r', prefix: '', files: ${files}, from: null, runDir: run, entries,
  progress: { epoch: 1, step: 2, loss: null, metrics: {}, source: null }, trigger: 'crash-test', now: Date.now() });
`;

let built: string;
beforeAll(async () => {
  built = await buildStore();
});
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

/** Every entry under `dir`, recursively, relative. */
function tree(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

describe.each([
  ['one model file', ['model.safetensors']],
  ['a folder of model files', ['unet/model.safetensors', 'text/model.safetensors']],
])('a save of %s killed at any file-system call', (_label, models) => {
  it('leaves, after the sweep, no orphan export, no record without its export, and the earlier save as it was', async () => {
    let completedAtLeastOnce = false;
    let stops = 0;
    for (let stopAt = 0; ; stopAt++) {
      const { run, store } = await runAndStore();
      const saveTo = path.join(path.dirname(store), 'exports');
      for (const m of models) put(run, m, `weights of ${m}`);
      const earlier = await writeSave({
        store, saveTo, runName: 'r', prefix: '', files: models, from: null, runDir: run, entries: await scanAll(run, store),
        progress: NO_PROGRESS, trigger: 'earlier', now: Date.now(),
      });
      const earlierTree = tree(saveTo);
      const earlierRecord = fs.readFileSync(path.join(store, 'save-records', `${earlier.id}.json`), 'utf8');
      for (const m of models) put(run, m, `new weights of ${m}`);

      const { stopped } = await runUntilStop(built, CHILD(JSON.stringify(models)), [run, store, saveTo], stopAt);
      await sweepStore(store, [saveTo]);

      const saves = await listSaves(store);
      for (const s of saves) {
        expect(fs.existsSync(s.path), `${stopped}: record ${s.id} names ${s.path}`).toBe(true);
        for (const f of s.files) expect(sha256File(models.length === 1 ? s.path : path.join(s.path, f.path)), `${stopped}: ${s.id} ${f.path}`).toBe(f.sha256);
      }
      const named = new Set(saves.map((s) => path.basename(s.path)));
      for (const name of fs.readdirSync(saveTo)) expect(named.has(name), `${stopped}: ${name} in save.to has no record`).toBe(true);
      expect(fs.readdirSync(path.join(store, 'save-records')).filter((n) => n.startsWith('.')), `${stopped}`).toEqual([]);
      expect(fs.readFileSync(path.join(store, 'save-records', `${earlier.id}.json`), 'utf8')).toBe(earlierRecord);
      for (const rel of earlierTree) expect(fs.existsSync(path.join(saveTo, rel)), `${stopped}: earlier ${rel}`).toBe(true);
      // Killed after the export was in place: the sweep completed its record.
      if (saves.length === 2 && stopped !== null) completedAtLeastOnce = true;

      if (stopped === null) break;
      stops++;
      expect(stopAt, 'the save never finished').toBeLessThan(100);
    }
    expect(stops).toBeGreaterThan(3);
    expect(completedAtLeastOnce).toBe(true);
  });
});
