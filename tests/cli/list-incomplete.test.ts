/**
 * Issue 11 item 14: `ckptd list` shows incomplete snapshots distinctly (and `--json` carries
 * `incomplete`), `show` says so, and `status` warns naming the newest complete backup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRecords, renderRecord, renderTable } from '../../src/client/list.js';
import { runStatus } from '../../src/cli/status.js';
import { loadConfigFile } from '../../src/config/load.js';
import { put, runAndStore, scanAll, snap } from '../store/fixtures.js';

async function storeWithIncomplete() {
  const { base, run, store } = await runAndStore();
  put(run, 'model.bin', 'weights');
  put(run, 'optimizer.pt', 'optim');
  const complete = await snap(run, store, { now: Date.now() - 1000 });
  const entries = await scanAll(run, store);
  fs.rmSync(path.join(run, 'optimizer.pt'));
  const partial = await snap(run, store, { entries });
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${run}\n    store: ${store}\n    progress: none\n`);
  return { complete, partial, runConfig: loadConfigFile(cfg).runs[0]! };
}

describe('incomplete snapshots in list, show and status', () => {
  it('list marks them (table column and --json field); show says what was left out', async () => {
    const { complete, partial, runConfig } = await storeWithIncomplete();
    const records = await listRecords(runConfig, undefined);
    expect(records.map((r) => [r.id, (r as { incomplete?: boolean }).incomplete])).toEqual([
      [partial.id, true],
      [complete.id, false],
    ]);
    const lines = renderTable(records, Date.now(), 200).split('\n');
    expect(lines[0]).toContain('INCOMPLETE');
    expect(lines.find((l) => l.startsWith(partial.id))).toMatch(/INCOMPLETE/);
    expect(lines.find((l) => l.startsWith(complete.id))).not.toMatch(/INCOMPLETE/);
    expect(renderRecord({ ...partial, incomplete: true }, Date.now())).toContain('incomplete: yes: 1 file(s) left out');
  });

  it('status warns that the newest backup is incomplete and names the newest complete one', async () => {
    const { complete, partial, runConfig } = await storeWithIncomplete();
    const s = await runStatus(runConfig, Date.now());
    expect(s.warnings.join('\n')).toContain(`the newest snapshot ${partial.id} is incomplete: it left out optimizer.pt (vanished`);
    expect(s.warnings.join('\n')).toContain(`the newest complete backup is ${complete.id}`);
  });
});
