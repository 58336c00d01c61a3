/**
 * `ckptd verify` beside a daemon whose retention deletes snapshots: a snapshot deleted before its
 * turn or while it is being hashed is reported as deleted, not as damaged or unverifiable, leaves
 * no damaged marker, and does not fail the command.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runVerify, type VerifyReport } from '../../src/cli/verify.js';
import { deleteSnapshot } from '../../src/store/delete-snapshot.js';
import { damagedDir } from '../../src/store/layout.js';
import { storeOf } from '../../src/store/local-store.js';
import { put, runAndStore, snap } from '../store/fixtures.js';

describe('verify while retention deletes', () => {
  it('reports snapshots deleted before or during their check as deleted and exits 0', async () => {
    const { run, store } = await runAndStore();
    put(run, 'model.pt', Buffer.alloc(300_000, 1));
    const a = await snap(run, store);
    put(run, 'model.pt', Buffer.alloc(300_000, 2));
    const b = await snap(run, store);
    put(run, 'model.pt', Buffer.alloc(300_000, 3));
    const c = await snap(run, store);
    const local = storeOf(store);

    const { exitCode, output } = await runVerify({
      store,
      ids: [],
      json: true,
      isTTY: false,
      stderr: new PassThrough(),
      check: async (record, onBytes) => {
        // Newest first: while c is checked, b is rolled away; a goes while it is being checked.
        if (record.id === c.id) await deleteSnapshot(store, b.id);
        if (record.id === a.id) await deleteSnapshot(store, a.id);
        return local.verify(record, onBytes);
      },
    });

    const report = output as VerifyReport;
    expect(report.records.map((r) => [r.id, r.status])).toEqual([
      [c.id, 'ok'],
      [b.id, 'deleted'],
      [a.id, 'deleted'],
    ]);
    expect(report).toMatchObject({ ok: true, checked: 3, damaged: 0, errors: 0, deleted: 2 });
    expect(exitCode).toBe(0);
    expect(fs.existsSync(damagedDir(store)) ? fs.readdirSync(damagedDir(store)) : []).toEqual([]);
    expect(fs.existsSync(path.join(store, 'snapshots', c.id))).toBe(true);
  });
});
