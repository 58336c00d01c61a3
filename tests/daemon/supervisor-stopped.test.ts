/**
 * A stopped run supervisor stays stopped: a config update that reaches it afterwards (the daemon's
 * reload was applying edits while the run's store lock was lost and the run stopped) must not
 * watch its folder or serve its store's requests again, beside the supervisor that replaces it
 * (two writers of one store).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** Request servers of `<store>/requests` opened and not closed yet. */
const open = { servers: 0 };
vi.mock('../../src/daemon/requests.js', async (original) => {
  const real = await original<typeof import('../../src/daemon/requests.js')>();
  return {
    ...real,
    serveRequests: (...args: Parameters<typeof real.serveRequests>) => {
      const server = real.serveRequests(...args);
      open.servers++;
      return {
        close: () => {
          open.servers--;
          server.close();
        },
      };
    },
  };
});

import { loadConfigFile } from '../../src/config/load.js';
import { RunSupervisor } from '../../src/daemon/run-supervisor.js';
import { RunWatch } from '../../src/daemon/run-watch.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** The test's temp folder: its run folders, config and store. */
let dir = '';
afterEach(() => {
  vi.restoreAllMocks();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a run supervisor after stop', () => {
  it('ignores a config update that would watch and serve again', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-sup-stopped-'));
    for (const p of ['r1', 'r2']) fs.mkdirSync(path.join(dir, p));
    const cfg = path.join(dir, 'ckptd.yaml');
    const write = (runPath: string) => {
      fs.writeFileSync(cfg, `runs:\n  - {name: a, path: ./${runPath}, store: ./store, settle: 200ms, progress: none, backup: {every: never}}\n`);
      return loadConfigFile(cfg).runs[0]!;
    };
    const attach = vi.spyOn(RunWatch.prototype, 'attach');
    const sup = await RunSupervisor.start(write('r1'), quiet, Date.now, () => undefined);
    expect([open.servers, attach.mock.calls.length]).toEqual([1, 1]);
    await sup.stop();
    expect(open.servers).toBe(0);

    // A new run folder needs a new watch: a live supervisor would attach and serve again here.
    await sup.update(write('r2'));
    expect([open.servers, attach.mock.calls.length]).toEqual([0, 1]);
  });
});
