/**
 * Issue 13: local rolling retention never deletes a backup that waits in the push queue
 * (`<store>/push-queue.json`) and is not on the remote yet; once it has gone up it rolls out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('retention and the push queue', () => {
  it('prune keeps a backup beyond keep while it is queued for push, and removes it once it is not', async () => {
    const config = (keep: number): string => `runs:\n  - name: r\n    path: ./run\n    settle: 0s\n    backup: {every: never, keep: ${keep}}\n    retention: {min_free: 0}\n`;
    const t = tempDir();
    cleanups.push(t.cleanup);
    const [run, store, cfg] = [path.join(t.dir, 'run'), path.join(t.dir, '.ckptd', 'r'), path.join(t.dir, 'ckptd.yaml')];
    fs.mkdirSync(run);
    fs.writeFileSync(cfg, config(3));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(run, 'model.bin'), `weights ${i}`);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(path.join(run, 'model.bin'), old, old);
      const r = await runCli(['--config', cfg, 'backup-now', '--json']);
      expect(r.code, r.stderr).toBe(0);
      ids.push((JSON.parse(r.stdout) as { id: string }).id);
    }
    const queue = { items: [{ id: ids[0], queued: new Date().toISOString(), failures: 0, next_try: null, error: null, uploads: {} }], last_pushed: null };
    fs.writeFileSync(path.join(store, 'push-queue.json'), JSON.stringify(queue));
    fs.writeFileSync(cfg, config(1));

    const dry = await runCli(['--config', cfg, 'prune', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { keep: { id: string; codes: string[] }[]; remove: { id: string }[] };
    expect(plan.remove.map((r) => r.id)).toEqual([ids[1]]);
    expect(plan.keep.find((k) => k.id === ids[0])!.codes).toEqual(['awaiting-push']);

    fs.writeFileSync(path.join(store, 'push-queue.json'), JSON.stringify({ items: [], last_pushed: { id: ids[0], at: Date.now() } }));
    const pruned = await runCli(['--config', cfg, 'prune', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const list = JSON.parse((await runCli(['--config', cfg, 'list', '--json'])).stdout) as { id: string }[];
    expect(list.map((r) => r.id)).toEqual([ids[2]]);
  });
});
