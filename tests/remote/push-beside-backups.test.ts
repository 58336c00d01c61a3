/**
 * Issue 13: pushing never delays local backups. A slow `ckptd push` sent through the daemon runs
 * beside its snapshot work: a backup due meanwhile is taken while the upload is still going.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../helpers/daemon-process.js';
import { loraPod } from '../helpers/lora-pod.js';
import { TEST_S3_ENV, useS3Server } from '../helpers/s3-hooks.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
const s3 = useS3Server(cleanups);

describe('a push through the daemon', () => {
  it('runs beside the snapshot work: a backup is taken while it uploads', async () => {
    const bucket = await s3().newBucket();
    // push: none, so only the push asked for below uploads; 4 MB/s makes 12 MiB take about 3 s.
    const top = `log: {format: json}\nremote:\n  url: s3://${bucket}/p\n  endpoint: ${s3().endpoint}\n  force_path_style: true\n  push: none\n  bandwidth: 4MB/s\n`;
    const { run, cfg } = loraPod({ prefix: 'ckptd-beside-', top, backup: '{every: always, keep: 5}' }, cleanups);
    fs.writeFileSync(path.join(run, 'model.bin'), crypto.randomBytes(12 << 20));
    fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step: 1 }));
    const d = startDaemon(['daemon', '--config', cfg], TEST_S3_ENV);
    cleanups.push(() => d.stop());
    const first = await d.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');

    const pushing = runCli(['--config', cfg, 'push', String(first.id), '--json'], { env: TEST_S3_ENV, timeoutMs: 120_000 });
    await d.waitFor((l) => l.event === 'request' && l.op === 'push', 30_000, 'the push request');
    fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step: 2 }));
    const second = await d.waitFor((l) => l.event === 'snapshot' && l.id !== first.id, 30_000, 'a backup during the push');
    const pushedYet = d.lines.some((l) => l.event === 'push');
    const done = await pushing;
    expect(done.code, done.stderr).toBe(0);
    expect(second.id).toBeDefined();
    // The second backup was taken before the upload ended.
    expect(pushedYet).toBe(false);
    expect((JSON.parse(done.stdout) as { pushed: { id: string }[] }).pushed.map((p) => p.id)).toEqual([first.id]);
  });
});
