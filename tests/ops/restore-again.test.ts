/**
 * A restore puts each file's mtime back, but Node sets file times only to the microsecond, while a
 * manifest records them to the nanosecond. Restoring the same snapshot again (the README's "running
 * it again completes it") must still find the restored files the same as the snapshot's: the
 * preview lists nothing to write, and the restore writes nothing, only confirms by hash.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

describe('restoring a snapshot the run already holds', () => {
  it('writes nothing and previews nothing to write, though the mtimes were put back only to the microsecond', async () => {
    const { dir, cleanup } = tempDir('ckptd-restore-again-');
    cleanups.push(cleanup);
    const runDir = path.join(dir, 'output');
    fs.mkdirSync(runDir);
    for (const name of ['model.bin', 'state.json']) {
      fs.writeFileSync(path.join(runDir, name), `${name} as snapshotted`);
      // A time with nanoseconds below the microsecond, as a trainer's writes on ext4 or tmpfs have.
      execFileSync('touch', ['-m', '-d', '2026-01-01 00:00:00.123456789', path.join(runDir, name)]);
    }
    const config = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(config, ['runs:', '  - name: output', '    path: ./output', '    settle: 0s', '    retention: {min_free: 0B}', ''].join('\n'));
    const snap = await runCli(['snapshot', '--config', config]);
    expect(snap.code, snap.stderr).toBe(0);
    const id = snap.stdout.trim();
    fs.writeFileSync(path.join(runDir, 'model.bin'), 'changed since');

    const first = await runCli(['restore', id, '--yes', '--json', '--config', config]);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { written: string[] }).written).toEqual(['model.bin']);

    // No terminal and no --yes: the preview is printed, then the command refuses to go on (exit 3).
    const preview = await runCli(['restore', id, '--config', config]);
    expect(preview.code).toBe(3);
    expect(preview.stderr).toContain('0 file(s) to write');
    expect(preview.stderr).toContain('2 file(s) that look the same (checked by hash)');

    const again = await runCli(['restore', id, '--yes', '--json', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout) as { written: string[]; unchanged: string[] };
    expect(r.written).toEqual([]);
    expect([...r.unchanged].sort()).toEqual(['model.bin', 'state.json']);
  });
});
