/**
 * A one-shot command whose output cannot be written (stdout redirected to a file on a full disk)
 * fails: `ckptd list --json > state.json` or `ckptd snapshot > id.txt` exited 0 with the file empty,
 * and a script went on with nothing. A reader that went away (`| head -1`, EPIPE) only ends it.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A config of one run holding one settled file, in a new temp folder. */
function setup(): string {
  const t = tempDir('ckptd-stdout-full-');
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'model.bin'), 'weights');
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(path.join(run, 'model.bin'), old, old);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `runs:\n  - name: a\n    path: ${run}\n    progress: none\n`);
  return cfg;
}

/** The file size limit the short-write case sets (`ulimit -f 1`: one block of 1 KiB). */
const LIMIT_BYTES = 1024;

/** Runs `ckptd args` with its stdout on `/dev/full` (every write fails with ENOSPC). */
function toFullDisk(args: string[]): { status: number | null; stderr: string } {
  const full = fs.openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stderr: r.stderr };
  } finally {
    fs.closeSync(full);
  }
}

describe('stdout that cannot be written', () => {
  it.each([[['list', '--json']], [['snapshot']]])('fails the command: ckptd %j', (args) => {
    const cfg = setup();
    const r = toFullDisk([...args, '--config', cfg]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/could not write the output.*ENOSPC/);
  });

  it('fails a command whose output file took only part of it (a short write, then no room)', () => {
    const cfg = setup();
    for (const name of ['first', 'second', 'third']) {
      expect(spawnSync(process.execPath, [CLI, 'snapshot', '--name', name, '--config', cfg], { encoding: 'utf8', timeout: 60_000 }).status).toBe(0);
    }
    const whole = spawnSync(process.execPath, [CLI, 'list', '--json', '--config', cfg], { encoding: 'utf8', timeout: 60_000 });
    expect(whole.stdout.length).toBeGreaterThan(LIMIT_BYTES);
    // RLIMIT_FSIZE of 1 KiB: the write of the document stores its first KiB and reports that much,
    // as write(2) does on a disk with less room left than the write needs.
    const out = path.join(path.dirname(cfg), 'state.json');
    const r = spawnSync('bash', ['-c', 'ulimit -f 1 && exec "$0" "$@" > "$OUT"', process.execPath, CLI, 'list', '--json', '--config', cfg], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, OUT: out },
    });
    expect(fs.statSync(out).size).toBe(LIMIT_BYTES);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: expect.stringMatching(/could not write the output.*EFBIG/) as unknown });
  });

  it('ends a command whose reader went away (EPIPE) as it would have ended', async () => {
    const cfg = setup();
    const proc = spawn(process.execPath, [CLI, 'list', '--json', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader is gone before the command writes: `ckptd list --json | true`.
    proc.stdout.destroy();
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
