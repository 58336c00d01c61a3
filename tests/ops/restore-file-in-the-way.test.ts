/**
 * A restore where the run has a regular file at the path of one of the snapshot's folders:
 * Lightning's `last.ckpt` is a file under one strategy and a folder under DeepSpeed. The file is
 * one the snapshot lacks, so the restore removes it (the pre-restore snapshot holds it) and puts the
 * folder in its place, as it does the other way round; it is not refused with "not a folder". (A
 * symlink there is still refused, never replaced: see tests/ops/restore-safety.test.ts.)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function age(dir: string): void {
  const old = new Date(Date.now() - 60_000);
  for (const n of fs.readdirSync(dir, { recursive: true }) as string[]) fs.lutimesSync(path.join(dir, n), old, old);
}

/** Every file and symlink under `dir` (relative, sorted) with its sha256 or link target. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = path.join(dir, n);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out[n] = `-> ${fs.readlinkSync(p)}`;
    else if (st.isFile()) out[n] = sha(p);
  }
  return out;
}

describe('restore over a file where the snapshot has a folder', () => {
  it('replaces the file by the folder; the pre-restore snapshot holds them and restores them back', async (ctx) => {
    const cleanup = testCleanups(ctx);
    const t = tempDir('ckptd-restore-in-the-way-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.mkdirSync(path.join(run, 'last.ckpt', 'checkpoint'), { recursive: true });
    fs.writeFileSync(path.join(run, 'last.ckpt', 'checkpoint', 'mp_rank_00_model_states.pt'), 'sharded weights');
    fs.writeFileSync(path.join(run, 'last.ckpt', 'latest'), 'checkpoint');
    fs.mkdirSync(path.join(run, 'logs', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(run, 'logs', 'deep', 'a.txt'), 'log a');
    age(run);
    fs.writeFileSync(cfg, `runs:\n  - {name: r, path: ${run}, store: ${path.join(t.dir, 'store')}, settle: 100ms, progress: none, retention: {min_free: 0}}\n`);
    const a = (await runCli(['snapshot', '--config', cfg])).stdout.trim();
    const wanted = contents(run);

    fs.rmSync(path.join(run, 'last.ckpt'), { recursive: true });
    fs.writeFileSync(path.join(run, 'last.ckpt'), 'one file of weights');
    fs.rmSync(path.join(run, 'logs', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(run, 'logs', 'deep'), 'a file two folders up');
    age(run);
    const before = contents(run);

    const r = await runCli(['restore', a, '--yes', '--json', '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(contents(run)).toEqual(wanted);
    const pre = (JSON.parse(r.stdout) as { pre_restore: string }).pre_restore;
    expect(pre).toMatch(/^\d{8}-/);

    const back = await runCli(['restore', pre, '--yes', '--config', cfg]);
    expect(back.code, back.stderr).toBe(0);
    expect(contents(run)).toEqual(before);
  });
});
