/**
 * A run folder, store or save folder that cannot be used (a regular file, a folder ckptd may not
 * enter or read, a symbolic link loop) is a bad config: `FILE:LINE:COL key: message` saying what
 * to change, exit 2, at check-config and at the start of every command that takes a config, never
 * a raw ENOTDIR/EACCES/ELOOP. The daemon reports such a run like any run that cannot start and
 * keeps its other runs going; a live edit that gives a running run such a place is not applied to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { withoutDacCapabilities } from '../helpers/unprivileged.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A temp folder with `good/` (a run folder), `afile` (a regular file) and `loop` (a link to itself). */
function world(): { dir: string; write: (name: string, text: string) => string } {
  const t = tempDir('ckptd-places-');
  cleanups.push(t.cleanup);
  fs.mkdirSync(path.join(t.dir, 'good'));
  fs.writeFileSync(path.join(t.dir, 'afile'), 'x');
  fs.symlinkSync('loop', path.join(t.dir, 'loop'));
  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(t.dir, name), text);
    return path.join(t.dir, name);
  };
  return { dir: t.dir, write };
}

const run = (name: string, keys: string): string => `  - name: ${name}\n${keys}    progress: none\n`;

describe('check-config on a folder that cannot be used', () => {
  it.each([
    ['path is a file', '    path: ./afile\n', ':3:11 runs.0.path: D/afile is a file, not a folder; set path to the folder the trainer writes'],
    [
      'path under a file',
      '    path: ./afile/run\n',
      ':3:11 runs.0.path: D/afile is a file, not a folder, so D/afile/run cannot be a folder; set path to the folder the trainer writes',
    ],
    [
      'store is a file',
      '    path: ./good\n    store: ./afile\n',
      ":4:12 runs.0.store: D/afile is a file, not a folder; set store to a folder (or leave it out for the default, <path's parent>/.ckptd/a)",
    ],
    [
      'store through a link loop',
      '    path: ./good\n    store: ./loop/store\n',
      ":4:12 runs.0.store: D/loop is a symbolic link that loops (it leads back to itself) on the way to D/loop/store; set store to a folder (or leave it out for the default, <path's parent>/.ckptd/a)",
    ],
    [
      'save.to is a file',
      '    path: ./good\n    save: {to: ./afile}\n',
      ':4:16 runs.0.save.to: D/afile is a file, not a folder; set save.to to a folder (or leave it out: saves then go to <store>/saves)',
    ],
  ])('%s: exit 2, located, with what to change', async (_what, keys, expected) => {
    const { dir, write } = world();
    const cfg = write('ckptd.yaml', `runs:\n${run('a', keys)}`);
    const r = await runCli(['check-config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stdout.trim().replaceAll(dir, 'D')).toBe(`D/ckptd.yaml${expected}`);
  });

  it('a folder ckptd may not enter or read (as a user without DAC override): exit 2, naming it', async () => {
    const { dir, write } = world();
    fs.mkdirSync(path.join(dir, 'locked'));
    fs.chmodSync(path.join(dir, 'locked'), 0o000);
    cleanups.push(() => fs.chmodSync(path.join(dir, 'locked'), 0o755));
    const wrap = withoutDacCapabilities();
    const enter = await runCli(['check-config', write('enter.yaml', `runs:\n${run('a', '    path: ./locked/run\n')}`)], { wrap });
    expect(enter.code).toBe(2);
    expect(enter.stdout.replaceAll(dir, 'D')).toMatch(
      /^D\/enter\.yaml:3:11 runs\.0\.path: permission denied: ckptd cannot enter D\/locked on the way to D\/locked\/run; give the user ckptd runs as \(\w+\) access, or set path to the folder the trainer writes\n$/,
    );
    const read = await runCli(['check-config', write('read.yaml', `runs:\n${run('a', '    path: ./good\n    store: ./locked\n')}`)], { wrap });
    expect(read.code).toBe(2);
    expect(read.stdout.replaceAll(dir, 'D')).toContain('D/read.yaml:4:12 runs.0.store: permission denied: ckptd cannot read D/locked; give the user ckptd runs as');
  });
});

describe('a store ckptd may read but not write', () => {
  it('snapshot and daemon fail with the path, who ckptd runs as, and what to do: no bare EACCES', async () => {
    const { dir, write } = world();
    fs.writeFileSync(path.join(dir, 'good', 'model.bin'), 'weights');
    fs.mkdirSync(path.join(dir, 'readonly'));
    fs.chmodSync(path.join(dir, 'readonly'), 0o555);
    cleanups.push(() => fs.chmodSync(path.join(dir, 'readonly'), 0o755));
    const cfg = write('ckptd.yaml', `runs:\n${run('a', '    path: ./good\n    settle: 100ms\n    store: ./readonly\n')}`);
    const wrap = withoutDacCapabilities();
    const snap = await runCli(['snapshot', '--config', cfg], { wrap });
    expect(snap.code).toBe(1);
    const said = snap.stderr.replaceAll(dir, 'D');
    expect(said).toMatch(/cannot write the store D\/readonly: permission denied: the user ckptd runs as \(\w+\) may not write there \(.*D\/readonly\/snapshots.*\); give it write access to D\/readonly, or set store to a folder it may write\n/);
    const daemon = await runCli(['daemon', '--config', cfg], { wrap });
    expect(daemon.code).not.toBe(0);
    expect(daemon.stdout.replaceAll(dir, 'D') + daemon.stderr.replaceAll(dir, 'D')).toMatch(/cannot write the store D\/readonly: .* give it write access to D\/readonly/);
  });
});

describe('commands that take a config', () => {
  it.each([['list'], ['status'], ['snapshot'], ['backup-now'], ['progress', '--epoch', '1'], ['verify'], ['prune', '--dry-run']])(
    '%s: exit 2 with the located problem, no raw error',
    async (...args) => {
      const { dir, write } = world();
      const cfg = write('ckptd.yaml', `runs:\n${run('a', '    path: ./good\n    store: ./afile\n')}`);
      const r = await runCli([...args, '--config', cfg]);
      expect(r.code).toBe(2);
      expect(r.stderr.replaceAll(dir, 'D')).toContain('D/ckptd.yaml:4:12 runs.0.store: D/afile is a file, not a folder');
      expect(r.stderr).not.toMatch(/ENOTDIR|EACCES|ELOOP/);
    },
  );

  it('a command about another run is not held up by the bad one', async () => {
    const { write } = world();
    const cfg = write('ckptd.yaml', `runs:\n${run('a', '    path: ./good\n')}${run('b', '    path: ./afile\n')}`);
    const r = await runCli(['list', '--run', 'a', '--config', cfg]);
    expect(r.code).toBe(0);
  });

  it('watch names the folder it cannot use', async () => {
    const { dir } = world();
    const r = await runCli(['watch', path.join(dir, 'afile')]);
    expect(r.code).toBe(2);
    expect(r.stderr.replaceAll(dir, 'D')).toContain('cannot watch D/afile: D/afile is a file, not a folder');
  });

  // `ckptd watch "$RUN_DIR"` with the variable unset: the current folder (a home folder, say) would
  // be watched and copied into a store beside it.
  it.each([
    ['an empty DIR', ['watch', ''], 'watch needs the folder the trainer writes'],
    ['an empty --store', ['watch', 'good', '--store', ''], '--store needs a folder'],
  ])('watch refuses %s (exit 2) and writes nothing', async (_what, args, message) => {
    const { dir } = world();
    const r = await runCli(args, { cwd: dir, timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(fs.readdirSync(dir).sort()).toEqual(['afile', 'good', 'loop']);
    expect(fs.existsSync(path.join(path.dirname(dir), '.ckptd', path.basename(dir)))).toBe(false);
  });
});

describe('the daemon', () => {
  it('reports a run whose folder cannot be used as run-failed and keeps the other runs', async () => {
    const { dir, write } = world();
    const cfg = write('ckptd.yaml', `log: {format: json}\nruns:\n${run('a', '    path: ./good\n')}${run('b', '    path: ./good2\n    store: ./afile\n')}`);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const failed = await d.waitFor((l) => l.event === 'run-failed' && l.run === 'b', 20_000, 'run b reported');
    expect(failed.message.replaceAll(dir, 'D')).toBe(
      "cannot start run b: D/ckptd.yaml:8:12 runs.1.store: D/afile is a file, not a folder; set store to a folder (or leave it out for the default, <path's parent>/.ckptd/b)",
    );
    const started = await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    expect(started.message).toContain('with 1 of 2 run(s)');
    expect(d.lines.some((l) => l.event === 'start' && l.run === 'a')).toBe(true);
    expect(d.lines.some((l) => l.event === 'start' && l.run === 'b')).toBe(false);

    // An edit that fixes the store starts the run.
    write('ckptd.yaml', `log: {format: json}\nruns:\n${run('a', '    path: ./good\n')}${run('b', '    path: ./good2\n    store: ./store-b\n')}`);
    await d.waitFor((l) => l.event === 'start' && l.run === 'b', 20_000, 'run b started after the fix');

    // An edit that moves a running run to a file is not applied to it, saying why: it goes on as it was
    // (tests/integration/reload-unusable-place.test.ts shows its backups going on).
    write('ckptd.yaml', `log: {format: json}\nruns:\n${run('a', '    path: ./afile\n    store: ./.ckptd/a\n')}${run('b', '    path: ./good2\n    store: ./store-b\n')}`);
    const kept = await d.waitFor((l) => l.event === 'config-invalid' && l.run === 'a', 20_000, 'run a reported after the edit');
    expect(kept.message.replaceAll(dir, 'D')).toBe(
      'run a: config not applied: D/ckptd.yaml:4:11 runs.0.path: D/afile is a file, not a folder; set path to the folder the trainer writes; ' +
        'run a goes on with its previous config (path D/good, store D/.ckptd/a) until an edit (or SIGHUP) makes it usable',
    );
    expect(d.lines.filter((l) => l.event === 'run-failed' && l.run === 'a')).toEqual([]);
    expect(d.proc.exitCode).toBe(null);
    expect(await d.stop()).toBe(0);
  });

  it('says once that a run cannot start: the config watch reading the unchanged file at start does not try it again', async () => {
    const { write } = world();
    const cfg = write('ckptd.yaml', `log: {format: json, level: debug}\nruns:\n${run('a', '    path: ./good\n')}${run('b', '    path: ./good2\n    store: ./afile\n')}`);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'config-unchanged', 20_000, "the config watch's first read");
    // What that read does, it does before its next await: all of it is logged before the stop.
    expect(await d.stop()).toBe(0);
    expect(d.lines.filter((l) => l.event === 'run-failed' && l.run === 'b')).toHaveLength(1);
  });

  it('exits 2 when no run can start', async () => {
    const { dir, write } = world();
    const cfg = write('ckptd.yaml', `runs:\n${run('a', '    path: ./afile\n')}`);
    const r = await runCli(['daemon', '--config', cfg], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.replaceAll(dir, 'D')).toContain('D/ckptd.yaml:3:11 runs.0.path: D/afile is a file, not a folder');
  });
});
