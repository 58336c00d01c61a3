/**
 * A store's clean-up at start-up removes, in a save.to outside the store, only the temp exports of
 * saves this store began: never another store's save in progress (two runs may share one exports
 * folder) nor a file of the person's that happens to carry ckptd's temp prefix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { ensureStore, saveIntentFile } from '../../src/store/layout.js';
import { tempDir } from './fixtures.js';

describe('the sweep of a shared save.to', () => {
  it('takes its own interrupted temp exports, and leaves another store\'s and the person\'s files', async () => {
    const base = await tempDir();
    const [a, b] = [path.join(base, 'a'), path.join(base, 'b')];
    await ensureStore(a);
    await ensureStore(b);
    const shared = path.join(base, 'exports');
    fs.mkdirSync(shared);
    // a's save was interrupted after it staged its export; b's save is under way right now.
    const idA = '20261201-100000-000-aaaa';
    const idB = '20261201-100000-000-bbbb';
    fs.writeFileSync(saveIntentFile(a, idA), '');
    fs.writeFileSync(path.join(shared, `.ckptd-tmp-${idA}.safetensors`), 'a, half written');
    fs.writeFileSync(saveIntentFile(b, idB), '');
    fs.mkdirSync(path.join(shared, `.ckptd-tmp-${idB}`));
    fs.writeFileSync(path.join(shared, `.ckptd-tmp-${idB}`, 'unet.safetensors'), 'b, being written');
    fs.writeFileSync(path.join(shared, '.ckptd-tmp-notes.txt'), "the person's own file");
    fs.writeFileSync(path.join(shared, 'lora-v1-e3.safetensors'), 'a finished export');

    const swept = await sweepStore(a, [shared]);
    expect(fs.readdirSync(shared).sort()).toEqual(['.ckptd-tmp-20261201-100000-000-bbbb', '.ckptd-tmp-notes.txt', 'lora-v1-e3.safetensors']);
    expect(swept.removed).toContain(path.join(shared, `.ckptd-tmp-${idA}.safetensors`));
    expect(fs.existsSync(saveIntentFile(a, idA))).toBe(false);
    expect(fs.existsSync(saveIntentFile(b, idB))).toBe(true);
  });
});
