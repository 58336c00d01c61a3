/**
 * While the daemon's backups keep failing, `ckptd status` says so (not only the daemon's log), in
 * both output forms, and so does the Version panel's run header; the next backup that succeeds
 * clears it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { TOKEN_HEADER } from '../../src/ui/access.js';
import { startUiServer } from '../../src/ui/server.js';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { withoutDacCapabilities } from '../helpers/unprivileged.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Status {
  failing: { since: string; at: string; attempts: number; kind: string; message: string; retrying_at: string | null } | null;
  warnings: string[];
}

const config = (minFree: string | number): string =>
  `log: {format: json, level: debug}\nruns:\n  - {name: r, path: ./run, settle: 200ms, progress: none, backup: {every: always}, retention: {min_free: ${minFree}}}\n`;

async function status(cfg: string): Promise<{ json: Status; text: string }> {
  const json = await runCli(['status', '--json', '--config', cfg]);
  expect(json.code, json.stderr).toBe(0);
  const text = await runCli(['status', '--config', cfg]);
  return { json: (JSON.parse(json.stdout) as Status[])[0]!, text: text.stdout };
}

/** The panel's `failing` for run `r` of `cfg`, as the page reads it. */
async function panelFailing(cfg: string): Promise<string | null> {
  const server = await startUiServer({ config: loadConfigFile(cfg), port: 0 });
  cleanups.push(() => server.close());
  const res = await fetch(`http://127.0.0.1:${server.port}/api/runs/r/records`, { headers: { [TOKEN_HEADER]: server.token } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { failing: string | null }).failing;
}

describe('ckptd status while backups fail', () => {
  it('warns with the error and the retry until a backup succeeds again', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config('7PiB'));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    fs.writeFileSync(path.join(run, 'w.bin'), 'generation 1');
    const lowDisk = await d.waitFor((l) => l.event === 'low-disk', 20_000, 'the backup refused for low disk');
    // The evaluation ends once the failure is recorded.
    await d.waitFor((l) => l.event === 'evaluated' && d.lines.indexOf(l) > d.lines.indexOf(lowDisk), 20_000, 'the failed evaluation');

    const failing = await status(cfg);
    expect(failing.json.failing).toMatchObject({ kind: 'low-disk', attempts: 1, message: lowDisk.message });
    expect(Date.parse(failing.json.failing!.retrying_at!) - Date.parse(failing.json.failing!.at)).toBe(30_000);
    expect(failing.json.warnings.join('\n')).toMatch(/^backups failing since .*\(.*1 attempt\): .*min_free.*; retrying every 30 s/m);
    expect(failing.text).toMatch(/warning: +backups failing since .*; retrying every 30 s/);
    expect(await panelFailing(cfg)).toMatch(/^backups failing since .*min_free.*; retrying every 30 s/);

    // The disk condition clears (here: the limit is lowered live); the next backup succeeds.
    fs.writeFileSync(cfg, config('0'));
    await d.waitFor((l) => l.event === 'reload', 20_000, 'the config reloaded');
    fs.writeFileSync(path.join(run, 'w.bin'), 'generation 2');
    const snapshot = await d.waitFor((l) => l.event === 'snapshot', 20_000, 'a backup');
    await d.waitFor((l) => l.event === 'evaluated' && d.lines.indexOf(l) > d.lines.indexOf(snapshot), 20_000, 'the backup evaluation');

    const fine = await status(cfg);
    expect(fine.json.failing).toBeNull();
    expect(fine.json.warnings).toEqual([]);
    expect(fine.text).not.toMatch(/failing/);
    expect(await panelFailing(cfg)).toBeNull();
    expect(await d.stop()).toBe(0);
  });

  it('names the unreadable file while it fails the backups, and clears once it is readable', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'ok.bin'), 'ok');
    fs.writeFileSync(path.join(run, 'secret.bin'), 'secret');
    fs.chmodSync(path.join(run, 'secret.bin'), 0);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(0));
    // Root reads everything: as root the daemon runs without the capabilities that bypass permission bits.
    const d = startDaemon(['daemon', '--config', cfg], {}, withoutDacCapabilities());
    cleanups.push(() => d.stop());
    const failed = await d.waitFor((l) => l.level === 'error', 20_000, 'the failed backup');
    await d.waitFor((l) => l.event === 'evaluated' && d.lines.indexOf(l) > d.lines.indexOf(failed), 20_000, 'the failed evaluation');

    const failing = await status(cfg);
    expect(failing.json.failing).toMatchObject({ kind: 'error', attempts: 1 });
    expect(failing.json.failing!.message).toMatch(/permission denied.*secret\.bin/);
    expect(failing.text).toMatch(/warning: +backups failing since .*permission denied.*secret\.bin.*; retrying every 30 s/);

    fs.chmodSync(path.join(run, 'secret.bin'), 0o644);
    const snapshot = await d.waitFor((l) => l.event === 'snapshot', 20_000, 'a backup once the file is readable');
    await d.waitFor((l) => l.event === 'evaluated' && d.lines.indexOf(l) > d.lines.indexOf(snapshot), 20_000, 'the backup evaluation');
    const fine = await status(cfg);
    expect(fine.json.failing).toBeNull();
    expect(fine.json.warnings).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});
