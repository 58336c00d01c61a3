/**
 * `backup.delete_on_finish` follows the config file as it is when the trainer finishes, not as it
 * was when `ckptd run` started: a person who decides during a long training to keep its backups
 * edits the file, and ckptd run must not delete them anyway. An edit that breaks the file, or
 * removes the run, deletes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';
import { runToEnd } from '../helpers/run-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const CONFIG = `log: {format: json}
runs:
  - name: r
    path: ./run
    settle: 200ms
    backup: {every: never, delete_on_finish: true}
    retention: {min_free: 1MB}
`;

/** A run with one policy backup, and the config that asks to delete it on finish. */
async function setup(): Promise<{ cfg: string; backup: string }> {
  const t = tempDir('ckptd-run-finish-');
  cleanups.push(t.cleanup);
  fs.mkdirSync(path.join(t.dir, 'run'));
  fs.writeFileSync(path.join(t.dir, 'run', 'model.bin'), 'weights');
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(path.join(t.dir, 'run', 'model.bin'), old, old);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, CONFIG);
  const r = await runCli(['backup-now', '--config', cfg]);
  expect(r.code, r.stderr).toBe(0);
  return { cfg, backup: r.stdout.trim() };
}

/** `ckptd run` whose trainer replaces the config file with `edited`, then exits 0. */
async function runEditing(cfg: string, edited: string): Promise<{ code: number | null; stderr: string }> {
  const trainer = `require('fs').writeFileSync(${JSON.stringify(cfg)}, ${JSON.stringify(edited)})`;
  return runToEnd(['run', '--config', cfg, '--', process.execPath, '-e', trainer]);
}

async function backups(cfg: string): Promise<string[]> {
  const r = await runCli(['list', '--json', '--config', cfg]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { id: string; kind: string }[]).filter((s) => s.kind === 'backup').map((s) => s.id);
}

describe('delete_on_finish and the config file', () => {
  it('an edit to delete_on_finish: false during the run keeps the backups', async () => {
    const { cfg, backup } = await setup();
    const r = await runEditing(cfg, CONFIG.replace('delete_on_finish: true', 'delete_on_finish: false'));
    expect(r.code, r.stderr).toBe(0);
    expect(await backups(cfg)).toEqual([backup]);
    expect(r.stderr).toContain('delete_on_finish is now false in');
  });

  it('a config file broken during the run deletes nothing, and says why', async () => {
    const { cfg, backup } = await setup();
    const r = await runEditing(cfg, CONFIG.replace('settle: 200ms', 'settle: soon'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/delete_on_finish not done: .*settle/);
    fs.writeFileSync(cfg, CONFIG);
    expect(await backups(cfg)).toEqual([backup]);
  });

  it('an unchanged config deletes the policy backups', async () => {
    const { cfg } = await setup();
    const r = await runEditing(cfg, CONFIG);
    expect(r.code, r.stderr).toBe(0);
    expect(await backups(cfg)).toEqual([]);
  });
});
