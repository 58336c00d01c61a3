/** A `--json` document far larger than a pipe's buffer reaches the reader whole (`ckptd show --json | jq`). */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('large output through a pipe', () => {
  it('is written whole before the process exits', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(path.join(run, 'shards'), { recursive: true });
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(run, 'shards', `shard-with-a-long-name-${i}.bin`), String(i));
    const old = new Date(Date.now() - 60_000);
    for (const n of fs.readdirSync(path.join(run, 'shards'))) fs.utimesSync(path.join(run, 'shards', n), old, old);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'runs:\n  - {name: r, path: ./run, settle: 100ms, progress: none, retention: {min_free: 0}}\n');
    const id = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    const shown = await runCli(['show', id, '--json', '--config', cfg]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.length).toBeGreaterThan(256 * 1024);
    expect((JSON.parse(shown.stdout) as { files: unknown[] }).files).toHaveLength(3000);
  });
});
