/**
 * The watch of a run with real folders. A folder whose name looks like a file (`ckpt.v2`) counts
 * as activity when it appears. A run watched when inotify has no watch left (ENOSPC): the daemon warns once (`watch-limit`),
 * polls the run instead and still sees the trainer's writes, `ckptd status` says so while that
 * daemon runs, and nothing of the failed inotify watch is kept (closing the run leaves no
 * descriptor of its folder open).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runStatus } from '../../src/cli/status.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { RunConfig } from '../../src/config/types.js';
import { RunTriggers } from '../../src/daemon/run-triggers.js';
import { RunWatch } from '../../src/daemon/run-watch.js';
import { storeOf } from '../../src/store/local-store.js';
import type { Logger } from '../../src/util/logger.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Descriptors this process holds open on `dir` itself. */
function openOn(dir: string): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === dir;
    } catch {
      return false;
    }
  }).length;
}

/** A run folder in a new temp folder, with its config (`extra`: more YAML lines of the run). */
function newRun(extra: string): RunConfig {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-runwatch-')));
  cleanups.push(() => fs.rmSync(base, { recursive: true, force: true }));
  const runDir = path.join(base, 'run');
  fs.mkdirSync(runDir);
  const cfg = path.join(base, 'ckptd.yaml');
  fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${runDir}\n    progress: none\n${extra}`);
  return loadConfigFile(cfg).runs[0]!;
}

describe('the inotify watch limit', () => {
  it('falls back to polling, still reports writes, and leaks no inotify watcher', async () => {
    const run = newRun('');
    const runDir = run.path;
    const store = storeOf(run.store);
    await store.ensure();
    // As the daemon holds it: status reports a running daemon's notes only.
    const lock = await store.lock({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
    cleanups.push(() => lock.release());
    // Every inotify watch fails as it does once fs.inotify.max_user_watches is used up.
    vi.spyOn(fs, 'watch').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), { code: 'ENOSPC' });
    });
    const warned: (string | undefined)[] = [];
    const logger = { warn: (_m: string, f?: { event?: string }) => warned.push(f?.event), info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
    const triggers = new RunTriggers(() => undefined);
    const seen: string[] = [];
    const watch = new RunWatch(() => run, triggers, logger, (rel) => seen.push(rel));
    cleanups.push(() => triggers.clear());

    watch.attach();
    await vi.waitFor(() => expect(warned).toContain('watch-limit'));
    // Written until seen: a write before the polling watch's first walk is done is not an event.
    await vi.waitFor(
      () => {
        fs.appendFileSync(path.join(runDir, 'model.bin'), '.');
        expect(seen).toContain('model.bin');
      },
      { timeout: 15_000, interval: 500 },
    );
    expect(warned.filter((e) => e === 'watch-limit')).toHaveLength(1);
    await vi.waitFor(async () => {
      const status = await runStatus(run, Date.now());
      expect(status.warnings.join('\n')).toContain('the inotify watch limit was reached, so this run is polled');
    });

    await watch.close();
    expect(openOn(runDir)).toBe(0);
  }, 30_000);
});

describe('folders whose names look like files', () => {
  it('count as activity when include globs name only files (a folder `ckpt.v2` made and filled at once)', async () => {
    const run = newRun('    include: ["**/*.pt"]\n');
    const runDir = run.path;
    const logger = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
    let kicks = 0;
    const triggers = new RunTriggers(() => kicks++);
    cleanups.push(() => triggers.clear());
    const seen: string[] = [];
    const watch = new RunWatch(() => run, triggers, logger, (rel) => seen.push(rel));
    cleanups.push(() => watch.close());
    watch.attach();
    await vi.waitFor(() => expect(kicks).toBeGreaterThan(0));

    // Written before the new folder's own watch can be in place: only the folder's report tells.
    fs.mkdirSync(path.join(runDir, 'ckpt.v2'));
    fs.writeFileSync(path.join(runDir, 'ckpt.v2/model.pt'), 'weights');
    await vi.waitFor(() => expect(seen).toContain('ckpt.v2'));
  });
});
