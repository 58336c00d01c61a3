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

/** A temp folder (removed after the test) with an empty `run/` and `ckptd.yaml` holding `config`. */
function withConfig(config: string): { dir: string; run: string; cfg: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, config);
  return { dir: t.dir, run, cfg };
}

describe('watch: poll and metrics', () => {
  it('backs up a polled run and writes the counts to the metrics file', async () => {
    const { dir, run, cfg } = withConfig(`log: {format: json}\nmetrics: {file: ./metrics/ckptd.prom}\nruns:\n  - {name: nfs, path: ./run, watch: poll, settle: 300ms, progress: none, backup: {every: always}}\n`);
    const prom = path.join(dir, 'metrics', 'ckptd.prom');
    fs.mkdirSync(path.dirname(prom));
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

  it('creates the missing folders of metrics.file and log.file', async () => {
    const { dir, run, cfg } = withConfig(`log: {format: json, file: ./logs/new/ckptd.log}\nmetrics: {file: ./metrics/new/ckptd.prom}\nruns:\n  - {name: r, path: ./run, settle: 100ms, progress: none, backup: {every: always}}\n`);
    fs.writeFileSync(path.join(run, 'weights.bin'), 'w');
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the first backup');
    expect(await d.stop()).toBe(0);
    expect(d.output()).not.toMatch(/metrics: cannot write/);
    expect(fs.readFileSync(path.join(dir, 'metrics', 'new', 'ckptd.prom'), 'utf8')).toContain('ckptd_snapshots_total{run="r",kind="backup"} 1\n');
    expect(fs.readFileSync(path.join(dir, 'logs', 'new', 'ckptd.log'), 'utf8')).toContain('"event":"snapshot"');
  });
});
