/**
 * The config file edited while a page is open: an action goes to the run the page showed, or is
 * refused. A restore confirmed for one folder never writes another: when the run's folder changed
 * since the preview (same name, same store), the restore is refused (409, exit code 3) and neither
 * folder is touched. That holds too when the daemon that acts already reads the edited config
 * while the panel does not yet: the daemon checks the folder itself. The run `--run` named, renamed
 * or removed since, is no longer the one the page is told to show first. A run renamed while an
 * operation of it runs (its store kept) queues the next operation behind it: the panel never
 * races itself for the store's lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { TOKEN_HEADER } from '../../src/ui/access.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { startDaemon } from '../helpers/daemon-process.js';
import { loraPod, trainLora } from '../helpers/lora-pod.js';

let cleanups: (() => unknown)[] = [];

/** GET `p` of the panel, or POST `body` (JSON) to it, with the access token. */
function apiOf(server: UiServer): (p: string, body?: unknown) => Promise<Response> {
  return (p, body) =>
    fetch(new URL(p, new URL(server.url)), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { [TOKEN_HEADER]: server.token, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}
/** A panel that follows `cfg`; `edited` resolves once it has applied an edit of its runs. */
async function followingPanel(cfg: string, preferredRun: string | null = null): Promise<{ server: UiServer; edited: Promise<void> }> {
  let changed: () => void = () => undefined;
  const edited = new Promise<void>((resolve) => (changed = resolve));
  const onNotice = (line: string): void => {
    if (line.includes('changed')) changed();
  };
  const server = await startUiServer({ config: loadConfigFile(cfg), port: 0, preferredRun, followConfig: true, onNotice });
  cleanups.push(() => server.close());
  return { server, edited };
}

/** The restore answered 409 (exit code 3) naming `next`, the folder it refused to write, which holds only what it held. */
async function expectRefusedInto(res: Response, next: string): Promise<void> {
  const reply = (await res.json()) as { error: string; exitCode: number };
  expect(res.status).toBe(409);
  expect(reply.exitCode).toBe(3);
  expect(reply.error).toContain(next);
  expect(fs.readdirSync(next)).toEqual(['notes.txt']);
}

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('the panel: the config edited while a restore dialog is open', () => {
  it('refuses the restore when the run now names another folder than the one previewed', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-cfgchange-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    const { server, edited } = await followingPanel(pod.cfg);
    const api = apiOf(server);

    const taken = (await (await api('/api/runs/lora/snapshots', {})).json()) as { id: string };
    const preview = (await (await api(`/api/runs/lora/records/${taken.id}/restore-preview`)).json()) as { target: string };
    expect(preview.target).toBe(pod.run);

    // The next experiment: same run name, so the same default store, but another folder.
    const next = path.join(pod.dir, 'run2');
    fs.mkdirSync(next);
    fs.writeFileSync(path.join(next, 'notes.txt'), 'the new experiment');
    fs.writeFileSync(pod.cfg, fs.readFileSync(pod.cfg, 'utf8').replace('path: ./run', 'path: ./run2'));
    await edited;

    await expectRefusedInto(await api(`/api/runs/lora/records/${taken.id}/restore`, { target: preview.target }), next);
  });
});

describe('the panel: a daemon that gives the run another folder than the panel shows', () => {
  it('refuses the restore in the daemon, which would write a folder the dialog never showed', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-cfgdaemon-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    const next = path.join(pod.dir, 'run2');
    fs.mkdirSync(next);
    fs.writeFileSync(path.join(next, 'notes.txt'), 'the new experiment');
    const server = await startUiServer({ config: loadConfigFile(pod.cfg), port: 0 });
    cleanups.push(() => server.close());
    const api = apiOf(server);
    const taken = (await (await api('/api/runs/lora/snapshots', {})).json()) as { id: string };
    const preview = (await (await api(`/api/runs/lora/records/${taken.id}/restore-preview`)).json()) as { target: string };

    // The edit as the daemon has read it already (the same run and store, the next folder).
    const edited = path.join(pod.dir, 'edited.yaml');
    fs.writeFileSync(edited, `log: {format: json}\n${fs.readFileSync(pod.cfg, 'utf8').replace('path: ./run', 'path: ./run2')}`);
    const daemon = startDaemon(['daemon', '--config', edited]);
    cleanups.push(() => daemon.stop());
    await daemon.waitFor((l) => l.event === 'daemon-start', 30_000, 'daemon start');

    await expectRefusedInto(await api(`/api/runs/lora/records/${taken.id}/restore`, { target: preview.target }), next);
  });
});

describe('the panel: the run of `ckptd ui --run` renamed in the config file', () => {
  it('offers a run the config still has to show first, never the name that is gone', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-cfgrename-', top: '', backup: '{every: never}' }, cleanups);
    const { server, edited } = await followingPanel(pod.cfg, 'lora');
    fs.writeFileSync(pod.cfg, fs.readFileSync(pod.cfg, 'utf8').replace('name: lora', 'name: lora-v2'));
    await edited;
    const runs = (await (await apiOf(server)('/api/runs')).json()) as { runs: { name: string }[]; selected: string | null };
    expect(runs.runs.map((r) => r.name)).toEqual(['lora-v2']);
    expect(runs.selected).toBe('lora-v2');
  });
});

describe('the panel: a run renamed (same store) while one of its operations runs', () => {
  it('runs an operation on the new name after it, never refused by its own lock', async () => {
    const pod = loraPod({ prefix: 'ckptd-ui-cfgqueue-', top: '', backup: '{every: never}' }, cleanups);
    trainLora(pod.run, 1);
    // The store named, so that the rename keeps it; a long settle keeps the next snapshot waiting.
    fs.writeFileSync(pod.cfg, fs.readFileSync(pod.cfg, 'utf8').replace('settle: 200ms', 'settle: 3s\n    store: ./.ckptd/lora'));
    const { server, edited } = await followingPanel(pod.cfg);
    const api = apiOf(server);
    const first = (await (await api('/api/runs/lora/snapshots', {})).json()) as { id: string };

    fs.writeFileSync(path.join(pod.run, 'model.safetensors'), 'weights just written');
    const second = api('/api/runs/lora/snapshots', {});
    await vi.waitFor(() => expect(server.pending()).toBe(1));
    fs.writeFileSync(pod.cfg, fs.readFileSync(pod.cfg, 'utf8').replace('name: lora', 'name: lora-v2'));
    await edited;

    const pin = await api(`/api/runs/lora-v2/records/${first.id}/labels`, { pinned: true });
    expect(await pin.json()).toMatchObject({ id: first.id, pinned: true });
    expect(pin.status).toBe(200);
    expect((await second).status).toBe(201);
  });
});
