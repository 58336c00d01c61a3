/**
 * Hostile and odd input, through the built CLI and daemon: each is refused or handled with a clear
 * message and does no harm. Ids that could escape the store, labels with control characters,
 * symlinks out of the run, unreadable and vanishing files, a run folder deleted under the daemon,
 * configs that put the store in the run or at /, a run of 20k files, a umask of 0, and file names
 * with newlines or terminal escapes (shown escaped, never raw, by show, diff, restore and warnings).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveId } from '../../src/store/read-store.js';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { leftovers, snapshotFolders, verifyStore, walk, type OracleSnapshot } from '../helpers/store-oracle.js';
import { withoutDacCapabilities } from '../helpers/unprivileged.js';
import { literal, pausedAt, pauseEnv } from '../helpers/pause-at.js';
import { testCleanups } from '../helpers/test-cleanups.js';

type Cleanup = ReturnType<typeof testCleanups>;

/** A temp folder (removed by `cleanup`) with `run/` and a config for it (store `<dir>/store`); `extra` is appended to the run. */
function setUp(cleanup: Cleanup, opts: { settle?: string; every?: string; extra?: string } = {}): { dir: string; runDir: string; store: string; cfg: string } {
  const t = tempDir('ckptd-fault-input-');
  cleanup(t.cleanup);
  const runDir = path.join(t.dir, 'run');
  const store = path.join(t.dir, 'store');
  fs.mkdirSync(runDir);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `log: {level: debug, format: json}
runs:
  - name: run
    path: ${runDir}
    store: ${store}
    settle: ${opts.settle ?? '150ms'}
    progress: none
    backup: {every: ${opts.every ?? 'always'}, keep: 20}
    retention: {min_free: 1MB}
${opts.extra ?? ''}`,
  );
  return { dir: t.dir, runDir, store, cfg };
}

function daemon(cleanup: Cleanup, cfg: string, wrap: string[] = []): DaemonHandle {
  const d = startDaemon(['daemon', '--config', cfg], {}, wrap);
  cleanup(() => d.stop());
  return d;
}

/** Waits for the next backup the daemon takes after `from` (a line index) and returns its snapshot.json. */
async function nextSnapshot(d: DaemonHandle, store: string, from: number, what: string, timeoutMs = 30_000): Promise<OracleSnapshot> {
  const line = await d.waitFor((l) => l.event === 'snapshot' && d.lines.indexOf(l) >= from, timeoutMs, what);
  return JSON.parse(fs.readFileSync(path.join(store, 'snapshots', String(line.id), 'snapshot.json'), 'utf8')) as OracleSnapshot;
}

/** `message` is about the unreadable `file` (its path in the run, never an internal one) and says how to fix it. */
function expectUnreadableMessage(message: string, file: string): void {
  expect(message).toContain(`cannot read ${file}: permission denied`);
  expect(message).not.toContain('/proc/self/fd');
  expect(message).toMatch(/chmod/);
  expect(message).toMatch(/exclude/);
}

function expectStoreVerifies(store: string): void {
  const r = verifyStore(store);
  expect([...r.incomplete, ...r.problems]).toEqual([]);
  expect(leftovers(store)).toEqual([]);
}

// Every test has its own folders and processes; the suites and their tests run concurrently. The
// 20k-file test takes most of the file's time: it comes first, so it starts at once and the others
// fit beside it.
describe.concurrent('a large run', () => {
  it('20k small files are backed up as one snapshot', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup, { settle: '2s' });
    fs.writeFileSync(path.join(runDir, 'first.bin'), 'first');
    // Written a minute ago: the first backup need not wait out the settle.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(runDir, 'first.bin'), old, old);
    const d = daemon(cleanup, cfg);
    await nextSnapshot(d, store, 0, 'the first backup');
    const seen = d.lines.length;
    // Written beside the run, then moved in at once: a writer that pauses for `settle` between two
    // files (a disk stalling on a new folder; it happened in CI) leaves a settled state that the
    // daemon rightly backs up, so written in place the count would measure the disk, not ckptd.
    const staged = path.join(path.dirname(runDir), 'data-being-written');
    for (let dirN = 0; dirN < 20; dirN++) {
      fs.mkdirSync(path.join(staged, `shard-${dirN}`), { recursive: true });
      for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(staged, `shard-${dirN}`, `${i}.json`), `{"shard":${dirN},"i":${i}}`);
    }
    fs.renameSync(staged, path.join(runDir, 'data'));
    const snap = await nextSnapshot(d, store, seen, 'the backup of 20k files', 120_000);
    expect(snap.files).toHaveLength(20_001);
    expect(snap.skipped).toEqual([]);
    // SIGTERM lets work in progress finish: any further backup would be in the log by then.
    expect(await d.stop()).toBe(0);
    expect(d.lines.filter((l) => l.event === 'snapshot' && d.lines.indexOf(l) >= seen)).toHaveLength(1);
    expectStoreVerifies(store);
  }, 120_000);
});

describe.concurrent('hostile ids and labels', () => {
  it('`show` refuses ids that are not ids, with a clear message and exit 2', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.writeFileSync(path.join(runDir, 'w.bin'), 'w');
    const snap = await runCli(['snapshot', '--config', cfg]);
    expect(snap.code, snap.stderr).toBe(0);
    const before = fs.readdirSync(store).sort();
    const ids = ['../x', 'a/b', '../../etc/passwd', '/etc/passwd', 'x'.repeat(300), 'ünïcødé', '日本語', '..', '', ' ', 'ABC'];
    const results = await Promise.all(ids.map((id) => runCli(['show', id, '--config', cfg, '--json'])));
    for (const [i, r] of results.entries()) {
      const id = ids[i]!;
      expect(r.code, `show ${JSON.stringify(id)}`).toBe(2);
      // --json: the one document on stdout is the error.
      expect(JSON.parse(r.stdout)).toEqual({ error: { message: expect.stringContaining(`invalid id ${JSON.stringify(id)}`) as unknown, code: 2 } });
      expect(r.stderr).toContain(`invalid id ${JSON.stringify(id)}: ids are made of lowercase letters, digits and "-"`);
    }
    // A well-formed id that matches nothing is a different, equally clear message.
    const none = await runCli(['show', '19990101', '--config', cfg]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no snapshot or save matches "19990101"/);
    expect(fs.readdirSync(store).sort()).toEqual(before);
  });

  it('resolveId refuses an id with a NUL (which no command line can carry) before touching the disk', async () => {
    const missing = path.join(tempDir().dir, 'no-store-here');
    for (const id of ['abc\0def', '20261123\0', '\0', '../\0x']) {
      await expect(resolveId(missing, id)).rejects.toThrow(/^invalid id "[^"]*\\u0000[^"]*": ids are made of lowercase letters/);
    }
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('`snapshot --name/--notes` with control characters or 10k characters exits 2 and writes nothing', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.writeFileSync(path.join(runDir, 'w.bin'), 'w');
    const cases: [string[], RegExp][] = [
      [['--name', 'red\u001b[31malert'], /--name contains control characters/],
      [['--name', 'two\nlines'], /--name contains control characters \(names are one line\)/],
      [['--name', 'bell\u0007'], /--name contains control characters/],
      [['--name', 'x'.repeat(10_000)], /--name is 10000 characters long; the limit is 200/],
      [['--notes', 'fine\nbut \u001b]0;title\u0007'], /--notes contains control characters/],
      [['--notes', 'y'.repeat(10_001)], /--notes is 10001 characters long; the limit is 10000/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['snapshot', '--config', cfg, ...args])));
    for (const [i, r] of results.entries()) {
      const [args, message] = cases[i]!;
      expect(r.code, JSON.stringify(args).slice(0, 80)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(snapshotFolders(store)).toEqual([]);
    // Printable unicode, and notes with newlines and tabs, are fine.
    const ok = await runCli(['snapshot', '--config', cfg, '--json', '--name', 'résumé 日本 ✓', '--notes', 'lr 1e-4\n\tlooks fine']);
    expect(ok.code, ok.stderr).toBe(0);
    const shown = JSON.parse((await runCli(['show', (JSON.parse(ok.stdout) as { id: string }).id, '--config', cfg, '--json'])).stdout) as OracleSnapshot;
    expect(shown).toMatchObject({ name: 'résumé 日本 ✓', notes: 'lr 1e-4\n\tlooks fine' });
  });
});

describe.concurrent('odd files in the run', () => {
  it('stores symlinks that point out of the run as symlinks and never follows them', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { dir, runDir, store, cfg } = setUp(cleanup);
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'not part of the run');
    fs.writeFileSync(path.join(runDir, 'weights.bin'), 'w');
    const links: Record<string, string> = {
      passwd: '/etc/passwd',
      etc: '/etc',
      outside,
      'up-secret': '../outside/secret.txt',
      self: '.',
      loop: 'loop',
      dangling: 'does/not/exist',
    };
    for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(runDir, name));
    const d = daemon(cleanup, cfg);
    const snap = await nextSnapshot(d, store, 0, 'the backup');

    expect(snap.files.map((f) => f.path).sort()).toEqual([...Object.keys(links), 'weights.bin'].sort());
    for (const [name, target] of Object.entries(links)) {
      expect(snap.files.find((f) => f.path === name)).toMatchObject({ type: 'symlink', target });
    }
    const filesDir = path.join(store, 'snapshots', snap.id, 'files');
    const found = walk(filesDir);
    // Nothing was followed: no folder was created, every entry but weights.bin is a link to its target.
    expect([...found.dirs.keys()]).toEqual([]);
    for (const [name, target] of Object.entries(links)) {
      expect(found.files.get(name)!.isSymbolicLink(), name).toBe(true);
      expect(fs.readlinkSync(path.join(filesDir, name))).toBe(target);
    }
    const passwd = fs.readFileSync('/etc/passwd');
    for (const [rel, st] of found.files) if (st.isFile()) expect(fs.readFileSync(path.join(filesDir, rel)).equals(passwd), rel).toBe(false);
    expectStoreVerifies(store);
    expect(d.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(await d.stop()).toBe(0);
  });

  it('`ckptd snapshot` with an unreadable file (small or large) exits 1 naming the file in the run and what to do', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.writeFileSync(path.join(runDir, 'ok.bin'), 'ok');
    // The small-file and the large-file copy open the source each their own way.
    for (const [name, size] of [['small.bin', 10], ['large.bin', (1 << 20) + 1]] as const) {
      const file = path.join(runDir, name);
      fs.writeFileSync(file, Buffer.alloc(size, 1));
      fs.chmodSync(file, 0);
      const r = await runCli(['snapshot', '--config', cfg], { wrap: withoutDacCapabilities() });
      expect(r.code, r.stderr).toBe(1);
      expectUnreadableMessage(r.stderr, file);
      fs.rmSync(file);
    }
    expect(snapshotFolders(store)).toEqual([]);
    expect(leftovers(store)).toEqual([]);
  });

  it('an unreadable file fails the backup with its name, leaves nothing behind, and the daemon backs up once it is readable', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.writeFileSync(path.join(runDir, 'ok.bin'), 'ok');
    fs.writeFileSync(path.join(runDir, 'secret.bin'), 'secret');
    fs.chmodSync(path.join(runDir, 'secret.bin'), 0);
    // Root reads everything: as root the daemon runs without the capabilities that bypass
    // permission bits (see tests/helpers/unprivileged.ts).
    const d = daemon(cleanup, cfg, withoutDacCapabilities());
    const failed = await d.waitFor((l) => l.level === 'error', 30_000, 'the failure');
    expect(failed.message).toMatch(/snapshot failed, nothing stored was changed: .*permission denied.*secret\.bin/);
    expectUnreadableMessage(failed.message as string, path.join(runDir, 'secret.bin'));
    expect(snapshotFolders(store)).toEqual([]);
    expect(leftovers(store), d.output()).toEqual([]);

    const seen = d.lines.length;
    fs.chmodSync(path.join(runDir, 'secret.bin'), 0o644);
    const snap = await nextSnapshot(d, store, seen, 'a backup once the file is readable');
    expect(snap.files.map((f) => f.path)).toEqual(['ok.bin', 'secret.bin']);
    expect(fs.readFileSync(path.join(store, 'snapshots', snap.id, 'files', 'secret.bin'), 'utf8')).toBe('secret');
    expectStoreVerifies(store);
    expect(await d.stop()).toBe(0);
  });

  it('a file that vanishes in the middle of its copy is left out with a warning; the rest is stored', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup, { every: 'never' });
    // Above the small-file size (1 MiB): copied by the large-file path. The pause, not the size,
    // makes the removal land mid-copy.
    const bigSize = 32 << 20;
    fs.writeFileSync(path.join(runDir, 'big.bin'), Buffer.alloc(bigSize, 5));
    fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
    const old = new Date(Date.now() - 60_000);
    for (const n of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, n), old, old);

    // The snapshot stops itself right after creating the staged big.bin (the source is open and
    // checked, no byte copied yet: see pause-at.ts); big.bin is removed then, and the copy goes on.
    const proc = startDaemon(['snapshot', '--config', cfg, '--json'], pauseEnv({ op: 'open', path: `${literal(path.join(store, '.staging'))}/[^/]+/files/big\\.bin$` }));
    cleanup(() => proc.stop('SIGKILL'));
    const staged = await pausedAt(proc.proc, 'the creation of the staged big.bin');
    expect(fs.statSync(staged).size).toBeLessThan(bigSize);
    fs.rmSync(path.join(runDir, 'big.bin'));
    const code = await proc.stop('SIGCONT');
    expect(code, proc.output()).toBe(0);
    expect(proc.output()).toMatch(/warning: \S+: left out big\.bin: vanished/);
    const ids = snapshotFolders(store);
    expect(ids).toHaveLength(1);
    const id = ids[0]!;
    expect(proc.output()).toContain(`"id": "${id}"`);
    const shown = JSON.parse((await runCli(['show', id, '--config', cfg, '--json'])).stdout) as OracleSnapshot;
    expect(shown.files.map((f) => f.path)).toEqual(['config.json']);
    expect(shown.skipped).toEqual([{ path: 'big.bin', reason: 'vanished' }]);
    expectStoreVerifies(store);
  });

  it('a run folder deleted and recreated under the daemon is noticed again and its new contents backed up', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.writeFileSync(path.join(runDir, 'a.bin'), 'first');
    const d = daemon(cleanup, cfg);
    await nextSnapshot(d, store, 0, 'the first backup');

    // Deleted, noticed as gone, then created again with new files.
    let seen = d.lines.length;
    fs.rmSync(runDir, { recursive: true });
    await d.waitFor((l) => l.event === 'waiting-for-run' && d.lines.indexOf(l) >= seen, 30_000, 'the daemon to notice the folder is gone');
    seen = d.lines.length;
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'b.bin'), 'second');
    let snap = await nextSnapshot(d, store, seen, 'a backup of the recreated folder');
    expect(snap.files.map((f) => f.path)).toEqual(['b.bin']);

    // Deleted and at once created again, empty; the new files come a moment later.
    seen = d.lines.length;
    fs.rmSync(runDir, { recursive: true });
    fs.mkdirSync(runDir);
    await d.waitFor((l) => (l.event === 'empty' || l.event === 'waiting-for-run') && d.lines.indexOf(l) >= seen, 30_000, 'the daemon to see the new, empty folder');
    fs.writeFileSync(path.join(runDir, 'c.bin'), 'third');
    snap = await nextSnapshot(d, store, seen, 'a backup of the files written into the recreated folder');
    expect(snap.files.map((f) => f.path)).toEqual(['c.bin']);
    expect(fs.readFileSync(path.join(store, 'snapshots', snap.id, 'files', 'c.bin'), 'utf8')).toBe('third');

    // And it keeps watching the new folder.
    seen = d.lines.length;
    fs.writeFileSync(path.join(runDir, 'c.bin'), 'fourth');
    snap = await nextSnapshot(d, store, seen, 'a backup of a later change');
    expect(fs.readFileSync(path.join(store, 'snapshots', snap.id, 'files', 'c.bin'), 'utf8')).toBe('fourth');
    expectStoreVerifies(store);
    expect(await d.stop()).toBe(0);
  });

  it('snapshot folders have no group/other write bits, even under umask 0', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup);
    fs.mkdirSync(path.join(runDir, 'a', 'b', 'c'), { recursive: true });
    fs.writeFileSync(path.join(runDir, 'a', 'b', 'c', 'deep.bin'), 'deep');
    fs.writeFileSync(path.join(runDir, 'train.sh'), '#!/bin/sh\n', { mode: 0o777 });
    fs.chmodSync(path.join(runDir, 'train.sh'), 0o777);
    const r = await runCli(['snapshot', '--config', cfg, '--json'], { wrap: ['sh', '-c', 'umask 0 && exec "$0" "$@"'] });
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    const snapDir = path.join(store, 'snapshots', id);
    const found = walk(snapDir);
    for (const [rel, st] of [['snapshots', fs.statSync(path.join(store, 'snapshots'))] as const, ['.', fs.statSync(snapDir)] as const, ...found.dirs]) {
      expect((st.mode & 0o022).toString(8), `folder ${rel}`).toBe('0');
    }
    for (const [rel, st] of found.files) expect((st.mode & 0o222).toString(8), `file ${rel}`).toBe('0');
    expect(fs.statSync(path.join(snapDir, 'files', 'train.sh')).mode & 0o777).toBe(0o555);
    expectStoreVerifies(store);
  });
});

/** Control characters a terminal acts on (C0 but tab, DEL, C1). */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

describe('file names with control characters', () => {
  it('show, diff and the restore prompt print them escaped, never raw; --json keeps them exact', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, cfg } = setUp(cleanup, { every: 'never' });
    const forged = 'evil\n  ffffffffffff        9 B  0644  fake.bin';
    const escape = '\u001b]0;pwned\u0007\u001b[31mred.bin';
    for (const name of [forged, escape, 'plain.bin']) fs.writeFileSync(path.join(runDir, name), name.slice(0, 3));
    const old = new Date(Date.now() - 60_000);
    for (const name of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, name), old, old);
    const snap = await runCli(['snapshot', '--config', cfg, '--json']);
    expect(snap.code, snap.stderr).toBe(0);
    const id = (JSON.parse(snap.stdout) as { id: string }).id;

    const show = await runCli(['show', id, '--config', cfg]);
    expect(show.code, show.stderr).toBe(0);
    const lines = show.stdout.split('\n');
    for (const l of lines) expect(l).not.toMatch(CONTROL);
    expect(lines.filter((l) => l.includes('fake.bin'))).toEqual([expect.stringMatching(/0644 {2}evil\\x0a {2}ffffffffffff {8}9 B {2}0644 {2}fake\.bin$/)]);
    expect(show.stdout).toContain('\\x1b]0;pwned\\x07\\x1b[31mred.bin');
    const json = JSON.parse((await runCli(['show', id, '--config', cfg, '--json'])).stdout) as { files: { path: string }[] };
    expect(json.files.map((f) => f.path).sort()).toEqual([forged, escape, 'plain.bin'].sort());

    // Both removed from the run: diff lists them as removed, the restore prompt as files to write.
    fs.rmSync(path.join(runDir, forged));
    fs.rmSync(path.join(runDir, escape));
    const diff = await runCli(['diff', id, '--config', cfg]);
    expect(diff.code, diff.stderr).toBe(0);
    for (const l of diff.stdout.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(diff.stdout).toContain('evil\\x0a  ffffffffffff');
    const restore = await runCli(['restore', id, '--config', cfg]);
    expect(restore.stderr).toMatch(/confirmation needed/);
    for (const l of `${restore.stdout}\n${restore.stderr}`.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(restore.stdout + restore.stderr).toContain('\\x1b]0;pwned');
  });

  it('a name that is not UTF-8 and holds a newline or escape is reported escaped by snapshot and status', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, cfg } = setUp(cleanup, { every: 'never' });
    const name = Buffer.concat([Buffer.from([0xff]), Buffer.from('\nwarning: forged\u001b[31mred.bin')]);
    fs.writeFileSync(Buffer.concat([Buffer.from(`${runDir}/`), name]), 'x');
    fs.writeFileSync(path.join(runDir, 'plain.bin'), 'p');
    const snap = await runCli(['snapshot', '--config', cfg]);
    expect(snap.code, snap.stderr).toBe(0);
    for (const l of snap.stderr.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(snap.stderr).toContain('\\xff\\x0awarning: forged\\x1b[31mred.bin');
    expect(snap.stderr.split('\n').filter((l) => l.startsWith('warning: forged'))).toEqual([]);
    const status = await runCli(['status', '--config', cfg]);
    for (const l of status.stdout.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(status.stdout).toContain('\\xff\\x0awarning: forged');
  });

  it('a file with a newline in its name that vanishes mid-copy is warned about escaped, on one line', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = setUp(cleanup, { every: 'never' });
    const name = 'big\nwarning: forged \u001b[31m.bin';
    // Above the small-file size: copied by the large-file path, where the pause below lands.
    fs.writeFileSync(path.join(runDir, name), Buffer.alloc(2 << 20, 5));
    fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
    const old = new Date(Date.now() - 60_000);
    for (const n of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, n), old, old);
    const proc = startDaemon(['snapshot', '--config', cfg], pauseEnv({ op: 'open', path: `${literal(path.join(store, '.staging'))}/[^/]+/files/big\n` }));
    cleanup(() => proc.stop('SIGKILL'));
    const staged = await pausedAt(proc.proc, 'the creation of the staged copy');
    fs.rmSync(path.join(runDir, name));
    expect(await proc.stop('SIGCONT'), proc.output()).toBe(0);
    // What ckptd printed after the test hook's own note of the pause (which names the path raw,
    // over two lines: `pausedAt` read the first).
    const out = proc.output();
    const note = out.indexOf(staged);
    expect(note).toBeGreaterThanOrEqual(0);
    const printed = out.slice(out.indexOf('.bin\n', note) + '.bin\n'.length);
    const lines = printed.split('\n');
    for (const l of lines) expect(l).not.toMatch(CONTROL);
    expect(lines.filter((l) => l.startsWith('warning: forged'))).toEqual([]);
    expect(printed).toMatch(/warning: \S+: left out big\\x0awarning: forged \\x1b\[31m\.bin: vanished/);
    // status warns that the newest snapshot is incomplete, naming the file the same way.
    const status = await runCli(['status', '--config', cfg]);
    for (const l of status.stdout.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(status.stdout).toContain('it left out big\\x0awarning: forged \\x1b[31m.bin (vanished)');
  });
});

describe.concurrent('configs that would put the store in harm’s way', () => {
  it('check-config and daemon exit 2 for a store inside the run, equal to it, or at /', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir('ckptd-fault-cfg-');
    cleanup(t.cleanup);
    const cases: [string, RegExp][] = [
      ['./run/.store', /runs\.0\.store: the store \S+\/run\/\.store is inside the run folder \S+\/run; .*Put the store outside the run/],
      ['./run', /runs\.0\.store: the store \S+\/run is inside the run folder/],
      ['/', /runs\.0\.store: the store cannot be the file system root/],
    ];
    for (const [store, message] of cases) {
      const cfg = path.join(t.dir, 'ckptd.yaml');
      fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ./run\n    store: ${store}\n`);
      const check = await runCli(['check-config', cfg]);
      expect(check.code, store).toBe(2);
      expect(check.stdout).toMatch(new RegExp(`^${cfg.replaceAll('/', '\\/')}:4:\\d+ `));
      expect(check.stdout).toMatch(message);
      const d = await runCli(['daemon', '--config', cfg]);
      expect(d.code, store).toBe(2);
      expect(d.stderr).toMatch(message);
    }
    expect(fs.readdirSync(t.dir)).toEqual(['ckptd.yaml']);
  });
});
