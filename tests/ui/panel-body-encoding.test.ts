/**
 * A request body that is not UTF-8 (bytes of another encoding, e.g. Latin-1 `é`) is a bad request
 * (400, exit code 2) and changes nothing: never a snapshot or label whose name has the bytes it
 * could not read replaced by `�`.
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

/** `{"name": "café"}` with `é` as the one Latin-1 byte 0xe9. */
const LATIN1_NAME = Buffer.concat([Buffer.from('{"name": "caf'), Buffer.from([0xe9]), Buffer.from('"}')]);

describe('the panel: a request body that is not UTF-8', () => {
  it('refuses a snapshot and a label edit with 400, and keeps the name as it was', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-utf8-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    const server = await startUiServer({ config: loadConfigFile(pod.cfg), port: 0 });
    cleanups.push(() => server.close());
    const post = (p: string, body: Buffer | string): Promise<Response> =>
      fetch(new URL(p, new URL(server.url)), { method: 'POST', headers: { [TOKEN_HEADER]: server.token, 'Content-Type': 'application/json; charset=iso-8859-1' }, body });

    const refused = await post('/api/runs/lora/snapshots', LATIN1_NAME);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'the request body is not UTF-8: send JSON in UTF-8', exitCode: 2 });
    const snapshots = path.join(pod.store, 'snapshots');
    expect(fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : []).toEqual([]);

    const taken = (await (await post('/api/runs/lora/snapshots', '{"name": "first"}')).json()) as { id: string };
    const relabel = await post(`/api/runs/lora/records/${taken.id}/labels`, LATIN1_NAME);
    expect(relabel.status).toBe(400);
    const list = (await (await fetch(new URL('/api/runs/lora/records', new URL(server.url)), { headers: { [TOKEN_HEADER]: server.token } })).json()) as { records: { id: string; name: string }[] };
    expect(list.records.map((r) => [r.id, r.name])).toEqual([[taken.id, 'first']]);
  });
});
