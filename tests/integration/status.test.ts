/** `ckptd status`, with and without a running daemon, in both output forms. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeEpoch } from '../../demo/fake-checkpoint.js';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Status {
  run: string;
  daemon: { running: boolean; pid: number | null };
  progress: { epoch: number | null; step: number | null; source: string | null };
  last_backup: { epoch: number | null } | null;
  next: { backup: string; save: string };
  snapshots: number;
  store_disk_bytes: number;
  free_bytes: number;
  warnings: string[];
}

describe('ckptd status', () => {
  it('says what is due next and why, with and without a daemon', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - name: train\n    path: ./run\n    settle: 200ms\n    progress: hf\n    backup: {every: 2 epochs}\n    save: {every: 30 minutes}\n    retention: {min_free: 1MB}\n`);

    const before = await runCli(['status', '--config', cfg, '--json']);
    expect(before.code, before.stderr).toBe(0);
    const [s0] = JSON.parse(before.stdout) as Status[];
    expect(s0!.daemon.running).toBe(false);
    expect(s0!.warnings.join('\n')).toMatch(/no daemon is running/);
    expect(s0!.warnings.join('\n')).toMatch(/does not exist yet/);

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    for (const e of [1, 2, 3]) {
      await writeEpoch(run, e, { stepsPerEpoch: 100, modelBytes: 100_000, optimizerBytes: 200_000 });
      await d.waitFor((l) => l.event === 'evaluated' && l.epoch === e, 20_000, `epoch ${e}`);
    }
    const during = await runCli(['status', '--config', cfg, '--json']);
    const [s1] = JSON.parse(during.stdout) as Status[];
    expect(s1!.daemon).toMatchObject({ running: true, pid: d.proc.pid });
    expect(s1!.progress).toMatchObject({ epoch: 3, step: 300, source: 'hf' });
    expect(s1!.last_backup?.epoch).toBe(2);
    expect(s1!.next.backup).toBe('next backup at epoch 4 (now 3)');
    expect(s1!.next.save).toMatch(/^next save in \d+m/);
    expect(s1!.snapshots).toBe(1);
    expect(s1!.store_disk_bytes).toBeGreaterThan(300_000);
    expect(s1!.free_bytes).toBeGreaterThan(0);
    expect(s1!.warnings).toEqual([]);

    const text = await runCli(['status', '--config', cfg]);
    expect(text.stdout).toMatch(new RegExp(`daemon: +running, pid ${d.proc.pid}`));
    expect(text.stdout).toMatch(/next: +next backup at epoch 4 \(now 3\); next save in/);
    expect(await d.stop()).toBe(0);
  });
});
