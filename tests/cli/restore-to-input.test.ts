/**
 * `restore ID --to DIR` with a DIR that cannot be what the person meant: an empty string (a shell
 * variable left unset, `--to "$OUT"`) is a usage error, never the current folder; a DIR that is a
 * file, or lies under one, is a usage error that says so, never a raw ENOTDIR with exit 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

/** A run with one file, `state.json`, one snapshot of it, and a working folder `work/` beside it. */
async function world(): Promise<{ dir: string; cfg: string; id: string; work: string }> {
  const t = tempDir('ckptd-restore-to-');
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'state.json'), '{"epoch":1}');
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, 'runs:\n  - name: r\n    path: ./run\n    settle: 100ms\n    progress: none\n');
  const snap = await runCli(['--config', cfg, 'snapshot']);
  expect(snap.code, snap.stderr).toBe(0);
  const work = path.join(t.dir, 'work');
  fs.mkdirSync(work);
  return { dir: t.dir, cfg, id: snap.stdout.trim(), work };
}

describe('restore --to with a folder that cannot be meant', () => {
  it('refuses an empty --to (exit 2) and leaves the current folder as it was', async () => {
    const { cfg, id, work } = await world();
    fs.writeFileSync(path.join(work, 'state.json'), 'mine');
    const r = await runCli(['--config', cfg, 'restore', id, '--to', '', '--yes', '--force'], { cwd: work });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--to/);
    expect(fs.readFileSync(path.join(work, 'state.json'), 'utf8')).toBe('mine');
    expect(fs.readdirSync(work)).toEqual(['state.json']);
  });

  it.each([
    ['a file', (f: string) => f],
    ['a path under a file', (f: string) => path.join(f, 'x')],
  ])('refuses --to %s with exit 2 and a message that says so', async (_what, to) => {
    const { cfg, id, work } = await world();
    const file = path.join(work, 'afile');
    fs.writeFileSync(file, 'keep');
    const r = await runCli(['--config', cfg, 'restore', id, '--to', to(file), '--yes', '--force']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${file} is a file, not a folder`);
    expect(r.stderr).not.toMatch(/ENOTDIR|scandir/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep');
  });

  it('refuses --to a symbolic link to nothing with exit 2, naming where it points', async () => {
    const { cfg, id, work } = await world();
    const link = path.join(work, 'dangling');
    fs.symlinkSync(path.join(work, 'nowhere'), link);
    const r = await runCli(['--config', cfg, 'restore', id, '--to', link, '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${link} is a symbolic link to ${path.join(work, 'nowhere')}, which does not exist`);
    expect(fs.existsSync(path.join(work, 'nowhere'))).toBe(false);
  });
});
