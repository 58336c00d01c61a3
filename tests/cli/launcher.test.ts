/**
 * `bin/ckptd`, the `ckptd` command: npm links it into a `.bin` folder (or a global one), systemd
 * units run it by name. It must run the built CLI with node's start-up flags (`NODE_FLAGS`),
 * wherever it is linked from, with the arguments, output and exit code untouched; and those flags
 * must do what they are there for: keep V8's young generation small.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { CLI, ROOT, tempDir } from '../helpers/daemon-process.js';

const LAUNCHER = path.join(ROOT, 'bin', 'ckptd');

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

/** A `.bin` folder holding a link to the launcher, as `npm install` makes one. */
function linkedBin(): { bin: string; dir: string } {
  const t = tempDir('ckptd-launcher-');
  cleanups.push(t.cleanup);
  const bin = path.join(t.dir, 'node_modules', '.bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(path.relative(bin, LAUNCHER), path.join(bin, 'ckptd'));
  return { bin, dir: t.dir };
}

describe('the ckptd command (bin/ckptd)', () => {
  it('runs the built CLI through a link, with its arguments, output and exit code', () => {
    const { bin, dir } = linkedBin();
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const version = spawnSync(path.join(bin, 'ckptd'), ['--version'], { cwd: dir, env, encoding: 'utf8' });
    expect(version.stdout.trim(), version.stderr).toBe((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    expect(version.status).toBe(0);
    const bad = spawnSync(path.join(bin, 'ckptd'), ['check-config', '--config', path.join(dir, 'no such file.yaml')], { cwd: dir, env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stdout + bad.stderr).toContain('no such file.yaml:1:1 (file): cannot read the config');
  });

  it('starts node with NODE_FLAGS before the CLI, and passes the arguments as given', () => {
    const { bin, dir } = linkedBin();
    // A `node` that prints what it was started with, one argument a line.
    const fake = path.join(dir, 'fake');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'node'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
    const r = spawnSync(path.join(bin, 'ckptd'), ['list', '--run', 'a b', ''], { env: { ...process.env, PATH: `${fake}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const args = r.stdout.split('\n').slice(0, -1);
    expect(args.slice(0, NODE_FLAGS.length)).toEqual(NODE_FLAGS);
    expect(args[NODE_FLAGS.length]).toBe(CLI);
    expect(args.slice(NODE_FLAGS.length + 1)).toEqual(['list', '--run', 'a b', '']);
  });

  it("keeps V8's young generation at 8 MB where it would grow to 32 MB", () => {
    // Objects that all survive, allocated fast: what makes V8 grow its young generation to the limit.
    const script =
      'const v8 = require("node:v8"); const keep = []; let max = 0;' +
      'for (let i = 0; i < 7e5; i++) { keep.push({ i, s: "x" + i });' +
      ' if (i % 50000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size); }' +
      'console.log(max / 1048576);';
    const youngMb = (flags: readonly string[]): number => Number(spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' }).stdout.trim());
    expect(youngMb([])).toBeGreaterThanOrEqual(16);
    expect(youngMb(NODE_FLAGS)).toBeLessThanOrEqual(8);
  });
});
