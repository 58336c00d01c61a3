/**
 * A request sent to the daemon (ckptd restore, delete, label... through `<store>/requests`) is
 * carried out once and answered, even when the run is re-watched meanwhile (a config edit of its
 * path) or the daemon stops while it runs: a second server of the same folder must not take it up
 * again, and a closed one still writes the reply its sender waits for. One whose sender gave up
 * before its turn is not carried out (the sender would ask again: twice).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoreOp } from '../../src/ops/types.js';

/** Label ops are held here until released (a long restore, say), and counted. */
const held: { calls: StoreOp[]; release: (() => void) | null } = { calls: [], release: null };
vi.mock('../../src/ops/execute.js', async (original) => {
  const real = await original<typeof import('../../src/ops/execute.js')>();
  return {
    ...real,
    executeOp: async (...args: Parameters<typeof real.executeOp>) => {
      const [, op] = args;
      if (op.kind !== 'label') return real.executeOp(...args);
      held.calls.push(op);
      await new Promise<void>((r) => (held.release = r));
      return { message: 'labelled', data: {} };
    },
  };
});

import { loadConfigFile } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { sendRequest } from '../../src/daemon/requests.js';
import type { RootLogger } from '../../src/util/logger.js';
import { waitUntil } from '../helpers/wait.js';

const quiet: RootLogger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet, configure: () => undefined, close: async () => undefined };

let dirs: string[] = [];
afterEach(() => {
  held.calls = [];
  held.release = null;
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function setUp(): { dir: string; write: (runPath: string) => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-requests-'));
  dirs.push(dir);
  for (const p of ['r1', 'r2']) fs.mkdirSync(path.join(dir, p));
  const cfg = path.join(dir, 'ckptd.yaml');
  return {
    dir,
    write: (runPath) => {
      fs.writeFileSync(cfg, `runs:\n  - {name: a, path: ./${runPath}, store: ./store, settle: 200ms, progress: none, backup: {every: never}}\n`);
      return cfg;
    },
  };
}

const label = { type: 'op', op: { kind: 'label', id: '20261201-000000-000-abcd', name: 'best' } } as const;

describe('a request to the daemon', () => {
  it('is carried out once and answered when a config edit re-watches the run meanwhile', async () => {
    const { dir, write } = setUp();
    const d = await Daemon.start({ config: loadConfigFile(write('r1')), logger: quiet, watchConfigFile: false });
    const reply = sendRequest(path.join(dir, 'store'), label, 20_000);
    await waitUntil(() => held.calls.length === 1, 'the request to start');
    write('r2');
    await d.reload('edit');
    // The new server has looked at the folder by now.
    await new Promise((r) => setTimeout(r, 500));
    held.release!();
    await expect(reply).resolves.toMatchObject({ ok: true });
    expect(held.calls).toHaveLength(1);
    await d.stop();
  });

  it('is answered when the daemon stops while it runs', async () => {
    const { dir, write } = setUp();
    const d = await Daemon.start({ config: loadConfigFile(write('r1')), logger: quiet, watchConfigFile: false });
    const reply = sendRequest(path.join(dir, 'store'), label, 20_000);
    await waitUntil(() => held.calls.length === 1, 'the request to start');
    const stopping = d.stop();
    await new Promise((r) => setTimeout(r, 200));
    held.release!();
    await stopping;
    await expect(reply).resolves.toMatchObject({ ok: true });
  });
  it('is not carried out once its sender gave up waiting before its turn', async () => {
    const { dir, write } = setUp();
    const d = await Daemon.start({ config: loadConfigFile(write('r1')), logger: quiet, watchConfigFile: false });
    const store = path.join(dir, 'store');
    const first = sendRequest(store, label, 20_000);
    await waitUntil(() => held.calls.length === 1, 'the first request to start');
    // The second waits behind the first; its sender times out (and removes it).
    await expect(sendRequest(store, label, 300)).rejects.toThrow();
    held.release!();
    await expect(first).resolves.toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(held.calls).toHaveLength(1);
    held.release?.();
    await d.stop();
  });
});
