/**
 * A store folder moved (`mv`) while the daemon holds it, then the config edited to name its new
 * place: the lock folder travelled with the store and names the daemon itself. The daemon must take
 * the run up again in the moved store, not refuse it as "in use by" its own pid until a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function config(runDir: string, store: string): string {
  return `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    store: ${store}
    settle: 200ms
    progress: none
    backup: {every: always, keep: 5}
`;
}

describe('a store moved while the daemon runs, and the config edited to its new place', () => {
  it('goes on backing the run up into the moved store', async () => {
    const t = tempDir('ckptd-store-moved-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const [store, moved] = [path.join(t.dir, 'store'), path.join(t.dir, 'store2')];
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'model.bin'), 'epoch 1');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, store));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the first backup');
    await d.waitFor((l) => l.event === 'evaluated', 20_000, 'the first evaluation done');

    fs.renameSync(store, moved);
    fs.writeFileSync(cfg, config(runDir, moved));
    const restarted = await d.waitFor((l) => (l.event === 'start' || l.event === 'run-failed') && l.message.includes(moved), 20_000, 'the run restarted in the moved store');
    expect(restarted.message).not.toMatch(/in use by/);
    expect(restarted.event).toBe('start');

    fs.writeFileSync(path.join(runDir, 'model.bin'), 'epoch 2');
    const second = await d.waitFor((l) => l.event === 'snapshot' && d.lines.filter((x) => x.event === 'snapshot').length === 2, 20_000, 'a backup in the moved store');
    expect(second.level).toBe('info');
    expect(d.lines.filter((l) => l.event === 'run-failed')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});
