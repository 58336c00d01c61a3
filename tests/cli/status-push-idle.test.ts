/**
 * `ckptd status` of a run with a remote while no daemon runs: what is queued waits for `ckptd push`
 * or a daemon, and the status says so instead of naming a record as being sent.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/daemon-process.js';
import { loraPod, s3Remote, trainLora } from '../helpers/lora-pod.js';
import { testCleanups } from '../helpers/test-cleanups.js';

describe('status of a push queue with no daemon', () => {
  it('names the next record to send and what sends it, not a record "being sent"', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    // Nothing listens there: a backup taken without a daemon is only queued, never sent.
    const pod = loraPod({ prefix: 'ckptd-status-idle-', top: s3Remote('bucket', 'http://127.0.0.1:9'), backup: '{every: always, keep: 3}' }, { push: cleanup });
    trainLora(pod.run, 1);
    const taken = await runCli(['backup-now', '--json', '--config', pod.cfg]);
    expect(taken.code, taken.stderr).toBe(0);
    const { id } = JSON.parse(taken.stdout) as { id: string };
    const status = await runCli(['status', '--config', pod.cfg]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/remote: +s3:\/\/bucket\S* \(push backups\): 1 queued/);
    expect(status.stdout).toContain(`next to send ${id} (by \`ckptd push\` or the daemon)`);
    expect(status.stdout).not.toContain('sending');
  });
});
