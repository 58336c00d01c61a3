/**
 * The config file edited while a page is open: an action goes to the run the page showed, or is
 * refused. A restore confirmed for one folder never writes another: when the run's folder changed
 * since the preview (same name, same store), the restore is refused (409, exit code 3) and neither
 * folder is touched.
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

describe('the panel: the config edited while a restore dialog is open', () => {
  it('refuses the restore when the run now names another folder than the one previewed', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-cfgchange-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    let changed: () => void = () => undefined;
    const edited = new Promise<void>((resolve) => (changed = resolve));
    const server = await startUiServer({
      config: loadConfigFile(pod.cfg),
      port: 0,
      followConfig: true,
      onNotice: (line) => {
        if (line.includes('changed')) changed();
      },
    });
    cleanups.push(() => server.close());
    const api = (p: string, body?: unknown): Promise<Response> =>
      fetch(new URL(p, new URL(server.url)), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { [TOKEN_HEADER]: server.token, 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    const taken = (await (await api('/api/runs/lora/snapshots', {})).json()) as { id: string };
    const preview = (await (await api(`/api/runs/lora/records/${taken.id}/restore-preview`)).json()) as { target: string };
    expect(preview.target).toBe(pod.run);

    // The next experiment: same run name, so the same default store, but another folder.
    const next = path.join(pod.dir, 'run2');
    fs.mkdirSync(next);
    fs.writeFileSync(path.join(next, 'notes.txt'), 'the new experiment');
    fs.writeFileSync(pod.cfg, fs.readFileSync(pod.cfg, 'utf8').replace('path: ./run', 'path: ./run2'));
    await edited;

    const res = await api(`/api/runs/lora/records/${taken.id}/restore`, { target: preview.target });
    const reply = (await res.json()) as { error: string; exitCode: number };
    expect(res.status).toBe(409);
    expect(reply.exitCode).toBe(3);
    expect(reply.error).toContain(next);
    expect(fs.readdirSync(next)).toEqual(['notes.txt']);
  });
});
