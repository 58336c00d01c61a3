import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Metrics, observeEvents, renderMetrics, type RunCounters } from '../../src/daemon/metrics.js';
import { isWatchLimitError } from '../../src/daemon/watcher.js';
import type { LogFields, Logger } from '../../src/util/logger.js';

describe('renderMetrics', () => {
  it('renders every family in the Prometheus text format, per run', () => {
    const runs = new Map<string, RunCounters>([
      ['lora', { snapshots: { backup: 3, manual: 1 }, saves: 2, failures: 1, deletions: 4, bytesCopied: 1000, bytesLinked: 5000, durationSeconds: 1.5, lastSuccess: 1_700_000_000_000 }],
      ['new"run', { snapshots: {}, saves: 0, failures: 0, deletions: 0, bytesCopied: 0, bytesLinked: 0, durationSeconds: 0, lastSuccess: null }],
    ]);
    const text = renderMetrics(runs, 1_699_999_000_000);
    expect(text).toContain('# TYPE ckptd_snapshots_total counter\nckptd_snapshots_total{run="lora",kind="backup"} 3\nckptd_snapshots_total{run="lora",kind="manual"} 1\n');
    expect(text).toContain('ckptd_bytes_linked_total{run="lora"} 5000\n');
    expect(text).toContain('ckptd_last_success_timestamp_seconds{run="lora"} 1700000000\n');
    expect(text).toContain('ckptd_last_success_timestamp_seconds{run="new_run"} 0\n');
    expect(text).toContain('ckptd_start_time_seconds 1699999000\n');
    // Every sample line is `name{labels} value` or `name value`.
    expect(text).toContain('ckptd_pushes_total{run="lora"} 0\n');
    for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) expect(line).toMatch(/^ckptd_[a-z_]+(\{[^}]*\})? [0-9.]+$/);
  });
});

describe('Metrics', () => {
  it('counts pushes, bytes sent and failures from the push events; a remote delete is not a local deletion', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-metrics-'));
    try {
      const m = new Metrics(path.join(dir, 'm.prom'), () => 1_700_000_000_000, 0, (e) => { throw e; });
      m.record('r', 'push', { sent_bytes: 100 });
      m.record('r', 'push', { sent_bytes: 50 });
      m.record('r', 'push-failed', {});
      m.record('r', 'delete', { remote: true });
      m.record('r', 'delete', {});
      await m.flush();
      const text = fs.readFileSync(path.join(dir, 'm.prom'), 'utf8');
      expect(text).toContain('ckptd_pushes_total{run="r"} 2\n');
      expect(text).toContain('ckptd_bytes_pushed_total{run="r"} 150\n');
      expect(text).toContain('ckptd_push_failures_total{run="r"} 1\n');
      expect(text).toContain('ckptd_deletions_total{run="r"} 1\n');
      expect(text).toContain('ckptd_last_push_timestamp_seconds{run="r"} 1700000000\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Metrics that cannot be written', () => {
  it('reports the failure once, not on every write, and again only after a write that worked', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-metrics-'));
    try {
      // A file where the metrics folder should be: no folder can be made there.
      const blocker = path.join(dir, 'metrics');
      fs.writeFileSync(blocker, 'not a folder');
      const errors: string[] = [];
      const m = new Metrics(path.join(blocker, 'm.prom'), () => 0, 0, (e) => errors.push(e.message));
      for (let i = 0; i < 3; i++) {
        m.record('r', 'snapshot', {});
        await m.flush();
      }
      expect(errors).toHaveLength(1);
      fs.rmSync(blocker);
      await m.flush();
      expect(fs.readFileSync(path.join(blocker, 'm.prom'), 'utf8')).toContain('ckptd_snapshots_total{run="r",kind="backup"} 3\n');
      fs.rmSync(blocker, { recursive: true });
      fs.writeFileSync(blocker, 'not a folder');
      await m.flush();
      expect(errors).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('observeEvents', () => {
  it('sees every event whatever the level, and passes every line on', () => {
    const seen: string[] = [];
    const lines: string[] = [];
    const sink: Logger = {
      error: (m) => lines.push(`error ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      info: (m) => lines.push(`info ${m}`),
      debug: (m) => lines.push(`debug ${m}`),
      child: () => sink,
    };
    const log = observeEvents(sink, (event: string, _f: LogFields) => seen.push(event)).child({ run: 'x' });
    log.debug('d', { event: 'evaluated' });
    log.info('i', { event: 'snapshot' });
    log.warn('w');
    expect(seen).toEqual(['evaluated', 'snapshot']);
    expect(lines).toEqual(['debug d', 'info i', 'warn w']);
  });
});

describe('isWatchLimitError', () => {
  const err = (message: string, code?: string): Error => Object.assign(new Error(message), code ? { code } : {});
  it.each([
    [err('ENOSPC: System limit for number of file watchers reached, watch ...', 'ENOSPC'), true],
    [err('EMFILE: too many open files, watch', 'EMFILE'), true],
    [err('inotify_add_watch failed'), true],
    [err('EACCES: permission denied', 'EACCES'), false],
  ])('%s -> %s', (e, want) => {
    expect(isWatchLimitError(e)).toBe(want);
  });
});
