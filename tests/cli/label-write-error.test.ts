/**
 * `rename`, `note`, `pin` and `unpin` that cannot write the record (a snapshot folder the user ckptd
 * runs as may not write: one a root `ckptd snapshot` made in a store of another user) fail with
 * exit 1, the file named, the record as it was: a failure, not bad usage (exit 2, SPEC section 2),
 * which stays for an id that names no record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';
import { withoutDacCapabilities } from '../helpers/unprivileged.js';

describe('a label change that cannot be written', () => {
  it('exits 1 naming the record, leaves it as it was; an unknown id is still exit 2', async ({ onTestFinished }) => {
    const t = tempDir('ckptd-label-write-');
    onTestFinished(t.cleanup);
    const run = path.join(t.dir, 'run');
    const store = path.join(t.dir, 'store');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":1}');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(run, 'state.json'), old, old);
    fs.writeFileSync(cfg, `runs:\n  - {name: r, path: ${run}, store: ${store}, settle: 100ms, progress: none, retention: {min_free: 0}}\n`);
    const id = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    const folder = path.join(store, 'snapshots', id);
    const record = fs.readFileSync(path.join(folder, 'snapshot.json'), 'utf8');
    fs.chmodSync(folder, 0o555);
    onTestFinished(() => fs.chmodSync(folder, 0o755));
    const wrap = withoutDacCapabilities();

    for (const args of [['rename', id, 'best'], ['note', id, 'text'], ['pin', id]]) {
      const r = await runCli([...args, '--config', cfg], { wrap });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(path.join(folder, 'snapshot.json'));
      const j = await runCli([...args, '--json', '--config', cfg], { wrap });
      expect(j.code).toBe(1);
      expect((JSON.parse(j.stdout) as { error: { code: number } }).error.code).toBe(1);
    }
    expect(fs.readFileSync(path.join(folder, 'snapshot.json'), 'utf8')).toBe(record);
    expect((await runCli(['rename', '20991231-235959-999-abcd', 'x', '--config', cfg], { wrap })).code).toBe(2);
  });
});
