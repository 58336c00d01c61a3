/**
 * A run on a network file system (`watch: poll`) is still seen, and the metrics file a Prometheus
 * textfile collector reads counts what the daemon did.
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

describe('watch: poll and metrics', () => {
  it('backs up a polled run and writes the counts to the metrics file', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    const prom = path.join(t.dir, 'metrics', 'ckptd.prom');
    fs.mkdirSync(path.dirname(prom));
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `log: {format: json}\nmetrics: {file: ./metrics/ckptd.prom}\nruns:\n  - {name: nfs, path: ./run, watch: poll, settle: 300ms, progress: none, backup: {every: always}}\n`);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    for (const n of [1, 2]) {
      fs.writeFileSync(path.join(run, 'weights.bin'), Buffer.alloc(50_000, n));
      await d.waitFor((l) => l.event === 'snapshot' && d.lines.filter((x) => x.event === 'snapshot').length === n, 20_000, `backup ${n}`);
    }
    expect(await d.stop()).toBe(0);
    const text = fs.readFileSync(prom, 'utf8');
    expect(text).toContain('ckptd_snapshots_total{run="nfs",kind="backup"} 2\n');
    expect(text).toContain('ckptd_bytes_copied_total{run="nfs"} 100000\n');
    expect(text).toMatch(/ckptd_last_success_timestamp_seconds\{run="nfs"\} 1\d{9}/);
  });
});
