/**
 * `push: backups` sends pre-restore snapshots too (SPEC section 8): the one a restore through the
 * daemon takes holds the newest training state before a rollback, and a pod that dies after it
 * must have sent it like any other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon-process.js';
import { loraPod, s3Remote } from '../helpers/lora-pod.js';
import { s3Cli, TEST_S3_ENV, useS3Server } from '../helpers/s3-hooks.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
const s3 = useS3Server(cleanups);

function write(run: string, step: number): void {
  fs.writeFileSync(path.join(run, 'model.safetensors'), `weights at ${step}`);
  fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step }));
}

describe('the daemon pushes the pre-restore snapshot of a restore it ran', () => {
  it('it is on the remote by the time the next backup is', async () => {
    const bucket = await s3().newBucket();
    const a = loraPod({ prefix: 'ckptd-pre-', top: `log: {format: json}\n${s3Remote(bucket, s3().endpoint)}`, backup: '{every: always, keep: 5}' }, cleanups);
    write(a.run, 1);
    const daemon = startDaemon(['daemon', '--config', a.cfg], TEST_S3_ENV);
    cleanups.push(() => daemon.stop());
    const first = await daemon.waitFor((l) => l.event === 'push', 30_000, 'the first push');
    write(a.run, 2);
    await daemon.waitFor((l) => l.event === 'push' && l.id !== first.id, 30_000, 'the second push');

    const restored = JSON.parse(await s3Cli(a.cfg, 'restore', String(first.id), '--yes', '--json')) as { pre_restore: string };
    expect(restored.pre_restore).toMatch(/^\d{8}-/);
    write(a.run, 3);
    // Ids sort by creation time: the first backup taken after the restore.
    const third = await daemon.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup' && String(l.id) > restored.pre_restore, 30_000, 'the backup after the restore');
    await daemon.waitFor((l) => l.event === 'push' && l.id === third.id, 30_000, 'the push of the backup after the restore');
    const remote = JSON.parse(await s3Cli(a.cfg, 'list', '--remote', '--json')) as { id: string; kind: string }[];
    expect(remote.find((r) => r.id === restored.pre_restore)).toMatchObject({ kind: 'pre-restore' });
  });
});
