/**
 * `ckptd backup-now` run while no daemon holds the run takes a policy backup itself: with a remote
 * it is queued for push as the daemon queues its own, so local retention keeps it until it is on
 * the remote and the next `ckptd push` sends it. So are a manual snapshot (`ckptd snapshot`) and the
 * pre-restore snapshot of a `ckptd restore` taken without a daemon.
 */
import { describe, expect, it } from 'vitest';
import { loraPod, s3Remote, trainLora } from '../helpers/lora-pod.js';
import { s3Cli, useS3Server } from '../helpers/s3-hooks.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
const s3 = useS3Server(cleanups);

describe('backup-now without a daemon, with a remote', () => {
  it('local retention keeps the backups not yet pushed, and push sends them all', async () => {
    const bucket = await s3().newBucket();
    const a = loraPod({ prefix: 'ckptd-bn-', top: s3Remote(bucket, s3().endpoint), backup: '{every: always, keep: 1}' }, cleanups);
    const ids: string[] = [];
    for (const step of [1, 2]) {
      trainLora(a.run, step);
      ids.push((JSON.parse(await s3Cli(a.cfg, 'backup-now', '--json')) as { id: string }).id);
    }
    const local = (JSON.parse(await s3Cli(a.cfg, 'list', '--json')) as { id: string }[]).map((r) => r.id);
    expect(local).toEqual([ids[1], ids[0]]);
    const pushed = JSON.parse(await s3Cli(a.cfg, 'push', '--json')) as { pushed: { id: string }[] };
    expect(pushed.pushed.map((p) => p.id)).toEqual(ids);
  });

  it('a manual snapshot and a restore\'s pre-restore snapshot are queued for push too, as the daemon queues them', async () => {
    const bucket = await s3().newBucket();
    const a = loraPod({ prefix: 'ckptd-bn-', top: s3Remote(bucket, s3().endpoint), backup: '{every: always, keep: 1}' }, cleanups);
    trainLora(a.run, 1);
    const manual = (JSON.parse(await s3Cli(a.cfg, 'snapshot', '--name', 'by hand', '--json')) as { id: string }).id;
    trainLora(a.run, 2);
    await s3Cli(a.cfg, 'restore', manual, '--yes', '--json');
    const preRestore = (JSON.parse(await s3Cli(a.cfg, 'list', '--json')) as { id: string; kind: string }[]).find((r) => r.kind === 'pre-restore')!.id;
    const status = JSON.parse(await s3Cli(a.cfg, 'status', '--json')) as { remote: { queued: number } }[];
    expect(status[0]!.remote.queued).toBe(2);
    const pushed = JSON.parse(await s3Cli(a.cfg, 'push', '--json')) as { pushed: { id: string }[] };
    expect(pushed.pushed.map((p) => p.id)).toEqual([manual, preRestore]);
  });
});
