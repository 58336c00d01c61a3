/**
 * `ckptd run --resume` and the remote (SPEC sections 7 and 8): the remote stands in for a local
 * store that holds no backup, never for a finished training. After a run that finished and whose
 * local backups `delete_on_finish` removed (they were pushed), `--resume` restores nothing: the
 * remote still holds that training's backups, but resuming it would put an older state of a
 * finished training back over its final one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { silentLogger } from '../../src/util/logger.js';
import { runCli } from '../helpers/daemon-process.js';
import { loraPod, s3Remote, trainLora } from '../helpers/lora-pod.js';
import { s3Cli, TEST_S3_ENV, useS3Server } from '../helpers/s3-hooks.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
const s3 = useS3Server(cleanups);

const cli = s3Cli;

describe('ckptd run --resume with a remote', () => {
  it('after a finished run whose local backups delete_on_finish removed, restores nothing from the remote', async () => {
    const bucket = await s3().newBucket();
    const pod = loraPod({ prefix: 'ckptd-run-remote-', top: `log: {format: json}\n${s3Remote(bucket, s3().endpoint)}`, backup: '{every: never, delete_on_finish: true}' }, cleanups);
    trainLora(pod.run, 100);
    const mid = (JSON.parse(await cli(pod.cfg, 'backup-now', '--json')) as { id: string }).id;
    await cli(pod.cfg, 'push');

    // The training finishes: it writes its final weights and exits 0; the pushed backup is deleted locally.
    const finish = `require('fs').writeFileSync('model.safetensors', 'final weights')`;
    const done = await runCli(['--config', pod.cfg, 'run', '--', process.execPath, '-e', finish], { env: TEST_S3_ENV, cwd: pod.run });
    expect(done.code, done.stderr).toBe(0);
    const local = JSON.parse(await cli(pod.cfg, 'list', '--json')) as { kind: string }[];
    expect(local.filter((s) => s.kind === 'backup')).toEqual([]);
    expect((JSON.parse(await cli(pod.cfg, 'list', '--remote', '--json')) as { id: string }[]).map((s) => s.id)).toEqual([mid]);

    const show = `console.log(JSON.stringify({ id: process.env.CKPTD_RESTORED_ID ?? null, weights: require('fs').readFileSync('model.safetensors', 'utf8') }))`;
    const again = await runCli(['--config', pod.cfg, 'run', '--resume', '--', process.execPath, '-e', show], { env: TEST_S3_ENV, cwd: pod.run });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('--resume: nothing to resume');
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!)).toEqual({ id: null, weights: 'final weights' });
    expect(fs.readFileSync(path.join(pod.run, 'model.safetensors'), 'utf8')).toBe('final weights');
  });

  it('on a new pod whose remote holds only incomplete backups, restores the newest of them and names what it lacks', async () => {
    const bucket = await s3().newBucket();
    const top = `log: {format: json}\n${s3Remote(bucket, s3().endpoint)}`;
    const a = loraPod({ prefix: 'ckptd-run-remote-', top, backup: '{every: never}' }, cleanups);
    const run = loadConfigFile(a.cfg).runs[0]!;
    const ids: string[] = [];
    for (const step of [100, 200]) {
      trainLora(a.run, step);
      fs.writeFileSync(path.join(a.run, 'train.log'), `log up to ${step}\n`);
      // The log kept changing: each backup left it out.
      const entries = (await scanRun(run)).filter((e) => e.path !== 'train.log');
      const progress = { epoch: null, step, loss: null, metrics: {}, source: null };
      const neverSettled = [{ path: 'train.log', reason: 'kept changing' }];
      ids.push((await captureSnapshot(run, entries, { kind: 'backup', trigger: 'test', progress, now: Date.now() - 1000 + step, neverSettled }, silentLogger)).id);
    }
    await cli(a.cfg, 'push');

    const b = loraPod({ prefix: 'ckptd-run-remote-', top, backup: '{every: never}' }, cleanups);
    const show = `console.log(JSON.stringify({ id: process.env.CKPTD_RESTORED_ID ?? null, weights: require('fs').readFileSync('model.safetensors', 'utf8') }))`;
    const r = await runCli(['--config', b.cfg, 'run', '--resume', '--', process.execPath, '-e', show], { env: TEST_S3_ENV, cwd: b.run });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ id: ids[1], weights: 'weights at 200' });
    expect(r.stderr).toContain(`backup ${ids[1]} is incomplete (left out: train.log)`);
  });
});
