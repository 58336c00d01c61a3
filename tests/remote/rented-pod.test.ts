/**
 * Issue 13, end to end on a real S3 API server (s3rver on 127.0.0.1): the daemon pushes each
 * backup in the background; the pod is deleted (its local store with it); on a new pod with the
 * same config, `list --remote` shows the backups, `restore --remote` puts the state back byte for
 * byte, `pull` copies one into the new local store, and a second push of an unchanged file sends
 * nothing. Also `push` by hand and `delete --remote`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon } from '../helpers/daemon-process.js';
import { loraPod, s3Remote, type LoraPod } from '../helpers/lora-pod.js';
import { s3Cli, TEST_S3_ENV, useS3Server } from '../helpers/s3-hooks.js';
import { testCleanups } from '../helpers/test-cleanups.js';

type Cleanup = ReturnType<typeof testCleanups>;

// Every test has its own bucket, pods and processes, and mostly waits on them: the tests run
// concurrently against the one server.
const s3 = useS3Server([]);

const ENV = TEST_S3_ENV;

/** A pod, removed by `cleanup`: a run folder and a config pushing to `bucket`. */
function pod(cleanup: Cleanup, bucket: string, remoteExtra = ''): LoraPod {
  return loraPod({ prefix: 'ckptd-pod-', top: `log: {format: json}\n${s3Remote(bucket, s3().endpoint)}${remoteExtra}`, backup: '{every: always, keep: 5}' }, { push: cleanup });
}

function write(run: string, step: number, weights: string): void {
  fs.writeFileSync(path.join(run, 'model.safetensors'), weights);
  fs.writeFileSync(path.join(run, 'encoder.bin'), Buffer.alloc(3 << 20, 7));
  fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step }));
}

const cli = s3Cli;

describe.concurrent('remote snapshots on a rented pod', () => {
  it('the daemon pushes backups; a new pod lists, restores and pulls them', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const a = pod(cleanup, bucket);
    write(a.run, 100, 'weights at 100');
    const daemon = startDaemon(['daemon', '--config', a.cfg], ENV);
    cleanup(() => daemon.stop());
    // A daemon at nice 19 beside the rest of the suite took 14 s for this first 3 MB backup (load 8):
    // generous waits, which cost nothing when it is quick.
    const first = await daemon.waitFor((l) => l.event === 'push', 60_000, 'the first push');
    expect(first.sent_bytes).toBeGreaterThan(3 << 20);
    write(a.run, 200, 'weights at 200');
    const second = await daemon.waitFor((l) => l.event === 'push' && l.id !== first.id, 60_000, 'the second push');
    // The 3 MiB encoder did not change: only the new weights and state went up.
    expect(second.sent_bytes).toBeLessThan(1 << 20);
    expect(second.present_bytes).toBeGreaterThanOrEqual(3 << 20);
    const status = JSON.parse(await cli(a.cfg, 'status', '--json')) as { remote: { queued: number; last_pushed: { id: string } | null } }[];
    expect(status[0]!.remote).toMatchObject({ queued: 0, last_pushed: { id: second.id } });
    await daemon.stop();

    // The pod is deleted; a new one starts from nothing but the config.
    const b = pod(cleanup, bucket);
    const remote = JSON.parse(await cli(b.cfg, 'list', '--remote', '--json')) as { id: string; step: number; location: string }[];
    expect(remote.map((r) => [r.id, r.step, r.location])).toEqual([
      [second.id, 200, 'remote'],
      [first.id, 100, 'remote'],
    ]);
    await cli(b.cfg, 'restore', String(second.id), '--remote', '--yes');
    expect(fs.readFileSync(path.join(b.run, 'model.safetensors'), 'utf8')).toBe('weights at 200');
    expect(fs.readFileSync(path.join(b.run, 'encoder.bin')).equals(Buffer.alloc(3 << 20, 7))).toBe(true);
    await cli(b.cfg, 'pull', String(first.id));
    const local = JSON.parse(await cli(b.cfg, 'list', '--json')) as { id: string; remote: boolean }[];
    expect(local.find((r) => r.id === first.id)).toMatchObject({ remote: true });
    const verify = JSON.parse(await cli(b.cfg, 'verify', '--remote', '--json')) as { ok: boolean; checked: number };
    expect(verify).toMatchObject({ ok: true, checked: 2 });
  }, 180_000);

  it('push by hand sends what is not there yet; delete --remote removes the manifest', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const a = pod(cleanup, bucket);
    write(a.run, 1, 'w1');
    const id = (JSON.parse(await cli(a.cfg, 'snapshot', '--json')) as { id: string }).id;
    const pushed = JSON.parse(await cli(a.cfg, 'push', '--json')) as { pushed: { id: string }[] };
    expect(pushed.pushed.map((p) => p.id)).toEqual([id]);
    const again = JSON.parse(await cli(a.cfg, 'push', '--json')) as { pushed: unknown[] };
    expect(again.pushed).toEqual([]);
    expect((JSON.parse(await cli(a.cfg, 'list', '--remote', '--json')) as unknown[]).length).toBe(1);
    // Another run pushing into the same bucket: apart by default, together with --all-runs.
    const other = pod(cleanup, bucket);
    fs.writeFileSync(other.cfg, fs.readFileSync(other.cfg, 'utf8').replace('name: lora', 'name: vae'));
    write(other.run, 1, 'vae weights');
    const otherId = (JSON.parse(await cli(other.cfg, 'snapshot', '--json')) as { id: string }).id;
    await cli(other.cfg, 'push');
    expect((JSON.parse(await cli(a.cfg, 'list', '--remote', '--json')) as { id: string }[]).map((r) => r.id)).toEqual([id]);
    const all = JSON.parse(await cli(a.cfg, 'list', '--remote', '--all-runs', '--json')) as { id: string; run: string }[];
    expect(all.map((r) => [r.run, r.id])).toEqual([
      ['vae', otherId],
      ['lora', id],
    ]);
    await cli(a.cfg, 'delete', id, '--remote', '--yes', '--force');
    expect(JSON.parse(await cli(a.cfg, 'list', '--remote', '--json'))).toEqual([]);
    // The local snapshot is untouched.
    expect((JSON.parse(await cli(a.cfg, 'list', '--json')) as { id: string }[]).map((r) => r.id)).toEqual([id]);
  });

  it('ckptd run --resume on a new pod with an empty store resumes from the newest remote backup', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const a = pod(cleanup, bucket);
    write(a.run, 300, 'weights at 300');
    const id = (JSON.parse(await cli(a.cfg, 'backup-now', '--json')) as { id: string }).id;
    await cli(a.cfg, 'push');

    const b = pod(cleanup, bucket);
    const trainer = `const fs = require('fs'); console.log(JSON.stringify({ id: process.env.CKPTD_RESTORED_ID, step: process.env.CKPTD_STEP, weights: fs.readFileSync('model.safetensors', 'utf8') }))`;
    const r = await runCli(['--config', b.cfg, 'run', '--resume', '--', process.execPath, '-e', trainer], { env: ENV, cwd: b.run });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming from the newest verified backup on its remote/);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ id, step: '300', weights: 'weights at 300' });
  });

  it('remote.keep rolls the remote after each push; manual snapshots and local backups stay', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const a = pod(cleanup, bucket, '  keep: {keep: 2}\n');
    const ids: string[] = [];
    for (let step = 1; step <= 3; step++) {
      write(a.run, step, `w${step}`);
      ids.push((JSON.parse(await cli(a.cfg, 'backup-now', '--json')) as { id: string }).id);
      await cli(a.cfg, 'push');
    }
    write(a.run, 4, 'w4');
    const manual = (JSON.parse(await cli(a.cfg, 'snapshot', '--json')) as { id: string }).id;
    // The backup remote.keep removed is not pushed again.
    const pushed = JSON.parse(await cli(a.cfg, 'push', '--json')) as { remote_deleted: string[]; pushed: { id: string }[] };
    expect(pushed.pushed.map((p) => p.id)).toEqual([manual]);
    expect(pushed.remote_deleted).toEqual([]);
    const remote = (JSON.parse(await cli(a.cfg, 'list', '--remote', '--json')) as { id: string }[]).map((r) => r.id);
    expect(remote).toEqual([manual, ids[2], ids[1]]);
    const local = (JSON.parse(await cli(a.cfg, 'list', '--json')) as { id: string }[]).map((r) => r.id);
    expect(local).toEqual([manual, ids[2], ids[1], ids[0]]);
  });

  it('a queued record that fails verification is dropped from the push queue, its bytes never sent', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const a = pod(cleanup, bucket);
    write(a.run, 1, 'w1');
    const id = (JSON.parse(await cli(a.cfg, 'snapshot', '--json')) as { id: string }).id;
    // Queued as the daemon queues each new snapshot; then a stored byte goes bad and verify marks it.
    const item = { id, queued: new Date().toISOString(), failures: 0, next_try: null, error: null, uploads: {} };
    fs.writeFileSync(path.join(a.store, 'push-queue.json'), JSON.stringify({ items: [item], last_pushed: null }));
    const stored = path.join(a.store, 'snapshots', id, 'files', 'model.safetensors');
    fs.chmodSync(stored, 0o600);
    fs.writeFileSync(stored, 'w2');
    expect((await runCli(['--config', a.cfg, 'verify', id], { env: ENV })).code).toBe(1);
    const r = JSON.parse(await cli(a.cfg, 'push', '--json')) as { pushed: unknown[]; dropped: string[]; remaining: number };
    expect(r).toMatchObject({ pushed: [], dropped: [id], remaining: 0 });
    expect(JSON.parse(await cli(a.cfg, 'list', '--remote', '--json'))).toEqual([]);
  });
});
