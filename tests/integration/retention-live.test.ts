/**
 * A config edit that tightens retention is previewed in the log and applied at the next backup,
 * never sooner (SPEC section 3, live edits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const config = (keep: number): string =>
  `log: {format: json}\nruns:\n  - {name: r, path: ./run, settle: 200ms, progress: none, backup: {every: always, keep: ${keep}}, retention: {min_free: 0}}\n`;

describe('tightening keep on a running daemon', () => {
  it('previews the deletions, then applies them at the next backup', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(3));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    const backups = (): number => d.lines.filter((l) => l.event === 'snapshot').length;
    for (let n = 1; n <= 3; n++) {
      fs.writeFileSync(path.join(run, 'w.bin'), `generation ${n}`);
      await d.waitFor(() => backups() === n, 20_000, `backup ${n}`);
    }
    const ids = d.lines.filter((l) => l.event === 'snapshot').map((l) => String(l.id));

    fs.writeFileSync(cfg, config(1));
    const preview = await d.waitFor((l) => l.event === 'retention-preview', 20_000, 'retention preview');
    expect(preview.remove).toEqual([ids[1], ids[0]]);
    expect(preview.message).toMatch(/beyond rolling keep=1/);
    // Nothing is deleted before the next backup.
    const listed = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as { id: string }[];
    expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());

    fs.writeFileSync(path.join(run, 'w.bin'), 'generation 4');
    await d.waitFor(() => backups() === 4, 20_000, 'backup 4');
    // Deleted oldest first, so the third backup goes last.
    await d.waitFor((l) => l.event === 'delete' && l.id === ids[2], 20_000, 'the third backup rolled away');
    const deleted = d.lines.filter((l) => l.event === 'delete').map((l) => l.id);
    expect([...deleted].sort()).toEqual([ids[0], ids[1], ids[2]].sort());
    expect(await d.stop()).toBe(0);
    const left = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as { id: string }[];
    expect(left).toHaveLength(1);
  });
});
