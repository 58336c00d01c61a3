/**
 * A label change (rename, notes, pin) rewrites a record with only those fields changed: the
 * manifest's entries are copied as they are written, never parsed and written again (a manifest of
 * 100,000 files is 29 MB of text: held whole, a rename from the panel took ~160 MB).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeLabels } from '../../src/store/labels.js';
import { readSnapshot } from '../../src/store/read-store.js';
import { put, runAndStore, snap } from './fixtures.js';

describe('writeLabels', () => {
  it('changes the labels and keeps every entry of the manifest byte for byte, and its mode', async () => {
    const { run, store } = await runAndStore();
    put(run, 'a.bin', 'one');
    put(run, 'sub/b.bin', 'two');
    const meta = await snap(run, store);
    const file = path.join(store, 'snapshots', meta.id, 'snapshot.json');
    // Entries written compact, as another writer (or an older ckptd) might: a reformat would show.
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { files: unknown[] };
    const compact = doc.files.map((f) => JSON.stringify(f)).join(',');
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, `${JSON.stringify({ ...doc, files: [] }, null, 2).replace('"files": []', `"files": [${compact}]`)}\n`);
    fs.chmodSync(file, 0o444);

    await writeLabels(store, meta.id, meta.kind, { name: 'epoch 3', pinned: true });
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain(`"files": [${compact}]`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o444);
    const after = await readSnapshot(store, meta.id);
    expect(after).toEqual({ ...meta, name: 'epoch 3', pinned: true, damaged: false, incomplete: false });
  });
});
