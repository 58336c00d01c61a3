/**
 * Issue 13: a remote that cannot be reached never stops local backups. The daemon keeps taking
 * them on schedule; each is queued for push (so local retention keeps it), and `status` says what
 * waits and why the push fails. Stopping such a daemon abandons the push's retries at once
 * instead of waiting them out (8 tries over up to half a minute).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../helpers/daemon-process.js';
import { loraPod } from '../helpers/lora-pod.js';
import { TEST_S3_ENV } from '../helpers/s3-hooks.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const ENV = TEST_S3_ENV;

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('a remote that cannot be reached', () => {
  it('does not hold up local backups; they wait in the push queue, status says so, and a stop does not wait out the retries', async () => {
    const top = `log: {format: json}\nremote:\n  url: s3://nowhere/x\n  endpoint: http://127.0.0.1:${await deadPort()}\n  force_path_style: true\n`;
    const { run, cfg } = loraPod({ prefix: 'ckptd-offline-', top, backup: '{every: always, keep: 1}' }, cleanups);
    const write = (step: number): void => {
      fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step }));
      fs.writeFileSync(path.join(run, 'model.bin'), `weights ${step}`);
    };
    write(1);
    const d = startDaemon(['daemon', '--config', cfg], ENV);
    cleanups.push(() => d.stop());
    const one = await d.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');
    write(2);
    const two = await d.waitFor((l) => l.event === 'snapshot' && l.id !== one.id, 30_000, 'the second backup, while the remote is down');
    const status = await runCli(['--config', cfg, 'status', '--json'], { env: ENV });
    expect(status.code, status.stderr).toBe(0);
    const remote = (JSON.parse(status.stdout) as { remote: { queued: number; last_pushed: unknown } }[])[0]!.remote;
    expect(remote).toMatchObject({ queued: 2, last_pushed: null });
    // keep: 1, yet the first backup stays: it has not reached the remote.
    const list = JSON.parse((await runCli(['--config', cfg, 'list', '--json'], { env: ENV, timeoutMs: 120_000 })).stdout) as { id: string }[];
    expect(list.map((r) => r.id).sort()).toEqual([one.id, two.id].sort());

    // The first pass is still retrying the unreachable remote (its tries take up to half a minute):
    // the stop ends it at once, and an abandoned try is not reported as a failed push.
    expect(await d.stop()).toBe(0);
    const stopping = d.lines.findIndex((l) => l.event === 'daemon-stopping');
    expect(stopping, d.output()).toBeGreaterThanOrEqual(0);
    expect(d.lines.slice(stopping).filter((l) => l.event === 'push-failed').map((l) => l.message)).toEqual([]);
  });
});
