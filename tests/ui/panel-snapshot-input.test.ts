/**
 * `POST /api/runs/:run/snapshots` checks its body as `labels` does: a `pinned` that is not true or
 * false is a bad request (400, exit code 2) and no snapshot is taken, never an unpinned snapshot
 * the caller believes pinned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { TOKEN_HEADER } from '../../src/ui/access.js';
import { startUiServer } from '../../src/ui/server.js';
import { loraPod, trainLora } from '../helpers/lora-pod.js';

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('the panel: a snapshot request with a bad pinned', () => {
  it.each([['"yes"'], ['1'], ['"true"']])('refuses pinned: %s with 400 and takes nothing', async (pinned) => {
    const pod = loraPod({ prefix: 'ckptd-ui-snapinput-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    const server = await startUiServer({ config: loadConfigFile(pod.cfg), port: 0 });
    cleanups.push(() => server.close());
    const base = new URL(server.url);
    const res = await fetch(new URL('/api/runs/lora/snapshots', base), {
      method: 'POST',
      headers: { [TOKEN_HEADER]: server.token, 'Content-Type': 'application/json' },
      body: `{"pinned": ${pinned}}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'pinned must be true or false', exitCode: 2 });
    const snapshots = path.join(pod.store, 'snapshots');
    expect(fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : []).toEqual([]);
  });
});
