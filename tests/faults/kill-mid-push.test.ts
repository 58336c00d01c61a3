/**
 * Issue 13: kill -9 (or stop) the daemon in the middle of a push. The snapshot is not visible on the remote
 * half-uploaded; the next daemon resumes from the parts already acknowledged (they are not sent
 * again) and the pushed snapshot then verifies byte for byte.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { TEST_S3_ENV, useS3Server } from '../helpers/s3-hooks.js';
import { testCleanups } from '../helpers/test-cleanups.js';
import { waitUntil } from '../helpers/wait.js';

// The two cases run at once: each has its own bucket, folders and daemons (most of a case is
// waiting on its daemons and the server).
const s3 = useS3Server([]);

const ENV = TEST_S3_ENV;
const MiB = 1 << 20;

interface QueueFile {
  items: { id: string; failures: number; error: string | null; uploads: Record<string, { parts: unknown[] }> }[];
}

describe('a daemon stopped during a push', () => {
  it.concurrent.for(['SIGKILL', 'SIGTERM'] as const)('%s: no half-visible snapshot, no failure recorded, and the next daemon resumes without resending acknowledged parts', async (signal, { expect, onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const bucket = await s3().newBucket();
    const t = tempDir('ckptd-killpush-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    const store = path.join(t.dir, '.ckptd', 'r');
    // 40 MiB: three 16 MiB-sized parts; a 10 MB/s cap makes the push last seconds, so the kill lands inside it.
    fs.writeFileSync(path.join(run, 'model.bin'), crypto.randomBytes(40 * MiB));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(run, 'model.bin'), old, old);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    const writeConfig = (bandwidth: string): void =>
      fs.writeFileSync(
        cfg,
        `log: {format: json}\nremote:\n  url: s3://${bucket}/k\n  endpoint: ${s3().endpoint}\n  force_path_style: true\n  bandwidth: ${bandwidth}\n` +
          'runs:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: always}\n    retention: {min_free: 0}\n',
      );
    writeConfig('10MB/s');
    const first = startDaemon(['daemon', '--config', cfg], ENV);
    cleanup(() => first.stop());
    const taken = await first.waitFor((l) => l.event === 'snapshot', 30_000, 'the backup');
    const queueFile = path.join(store, 'push-queue.json');
    const partsDone = (): number => {
      const q = JSON.parse(fs.readFileSync(queueFile, 'utf8')) as QueueFile;
      return q.items.flatMap((i) => Object.values(i.uploads)).reduce((n, u) => n + u.parts.length, 0);
    };
    await waitUntil(() => fs.existsSync(queueFile) && partsDone() >= 1, 'a part acknowledged', 30_000);
    first.proc.kill(signal);
    await new Promise((r) => first.proc.once('exit', r));
    const acknowledged = partsDone();
    expect(acknowledged).toBeGreaterThanOrEqual(1);
    // Stopping is not a failed push: no backoff, no error in status.
    expect((JSON.parse(fs.readFileSync(queueFile, 'utf8')) as QueueFile).items.map((i) => [i.id, i.failures, i.error])).toEqual([[taken.id, 0, null]]);

    const listed = await runCli(['--config', cfg, 'list', '--remote', '--json'], { env: ENV });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);

    // Only the first push needs the cap (so the kill lands inside it); the resumed push and the
    // byte-for-byte read back (downloads are capped too) run at full speed.
    writeConfig('null');
    const second = startDaemon(['daemon', '--config', cfg], ENV);
    cleanup(() => second.stop());
    const pushed = await second.waitFor((l) => l.event === 'push' && l.id === taken.id, 60_000, 'the resumed push');
    // The acknowledged parts (16 MiB each) were not sent again.
    expect(Number(pushed.sent_bytes)).toBeLessThanOrEqual(40 * MiB - acknowledged * 16 * MiB);
    await second.stop();
    const verify = await runCli(['--config', cfg, 'verify', '--remote', '--read-data', '--json'], { env: ENV });
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, checked: 1 });
  });
});
