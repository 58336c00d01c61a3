/**
 * The config file as people and tools change it, through the built CLI and a real daemon: edits by
 * `sed -i` (a rename over the file) are all applied, a symlinked config that dangles is reported and
 * picked up again when fixed, and a YAML alias bomb is a config error (exit 2, FILE:LINE:COL) at
 * check-config, at daemon start and at live reload.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALIAS_BOMB } from '../helpers/alias-bomb.js';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function config(runDir: string, keep: number): string {
  return `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    store: ${path.join(path.dirname(runDir), 'store')}
    settle: 200ms
    progress: none
    backup: {every: never, keep: ${keep}}
`;
}

function setUp(): { dir: string; runDir: string } {
  const t = tempDir('ckptd-config-edits-');
  cleanups.push(t.cleanup);
  const runDir = path.join(t.dir, 'run');
  fs.mkdirSync(runDir);
  return { dir: t.dir, runDir };
}

describe('live config edits made by tools', () => {
  it('applies every sed -i edit, not only the first', async () => {
    const { dir, runDir } = setUp();
    const cfg = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(path.join(dir, 'good.yaml'), config(runDir, 3));
    fs.copyFileSync(path.join(dir, 'good.yaml'), cfg);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    execFileSync('cp', [path.join(dir, 'good.yaml'), cfg]);
    execFileSync('sed', ['-i', 's/keep: 3/keep: 4/', cfg]);
    await d.waitFor((l) => l.event === 'config-reloaded', 20_000, 'the first edit applied');
    execFileSync('sed', ['-i', 's/keep: 4/keep: 5/', cfg]);
    await d.waitFor((l) => l.event === 'config-reloaded' && d.lines.filter((x) => x.event === 'config-reloaded').length === 2, 20_000, 'the second edit applied');
    expect(await d.stop()).toBe(0);
  });

  it('warns when a symlinked config dangles, keeps its config, and applies the file once fixed', async () => {
    const { dir, runDir } = setUp();
    fs.mkdirSync(path.join(dir, 'configs'));
    const target = path.join(dir, 'configs', 'v1.yaml');
    fs.writeFileSync(target, config(runDir, 3));
    const cfg = path.join(dir, 'ckptd.yaml');
    fs.symlinkSync(target, cfg);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    fs.renameSync(target, path.join(dir, 'configs', 'moved.yaml'));
    const warned = await d.waitFor((l) => l.event === 'config-unreadable', 20_000, 'the dangling config reported');
    expect(warned.level).toBe('warn');
    expect(warned.message).toContain(cfg);
    expect(warned.message).toMatch(/symbolic link to \S+v1\.yaml, which does not exist.*previous config stays in force/);

    fs.writeFileSync(target, config(runDir, 4));
    await d.waitFor((l) => l.event === 'config-reloaded', 20_000, 'the fixed config applied');
    expect(d.lines.filter((l) => l.event === 'config-invalid')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });
});

describe('a YAML alias bomb', () => {
  it('is a config error with its line at check-config, daemon start and live reload', async () => {
    const { dir, runDir } = setUp();
    const bomb = path.join(dir, 'bomb.yaml');
    fs.writeFileSync(bomb, ALIAS_BOMB);
    const message = /too many alias expansions \(over 1000\)/;

    const check = await runCli(['check-config', bomb]);
    expect(check.code).toBe(2);
    expect(check.stdout).toMatch(new RegExp(`^${bomb.replaceAll('/', '\\/')}:4:14 \\(yaml\\): too many alias expansions`));
    const start = await runCli(['daemon', '--config', bomb]);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(message);

    const cfg = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, 3));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    fs.writeFileSync(cfg, ALIAS_BOMB);
    const bad = await d.waitFor((l) => l.event === 'config-invalid' && typeof l.line === 'number', 20_000, 'the bomb reported');
    expect(bad.line).toBe(4);
    expect(bad.message).toMatch(message);
    expect(await d.stop()).toBe(0);
  });
});
