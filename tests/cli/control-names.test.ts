/**
 * File names are the trainer's (or anyone's who can write into the run): a name holding a newline
 * or a terminal escape must not forge lines or drive the terminal when `show`, `diff` and
 * `restore` list it. Such bytes are shown escaped (`\x0a`, `\x1b`); `--json` keeps the name exact.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { literal, pausedAt, pauseEnv } from '../helpers/pause-at.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** Control characters a terminal acts on (C0 but tab, DEL, C1). */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

describe('file names with control characters', () => {
  it('show, diff and the restore prompt print them escaped, never raw; --json keeps them exact', async () => {
    const t = tempDir('ckptd-control-names-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    fs.mkdirSync(runDir);
    const forged = 'evil\n  ffffffffffff        9 B  0644  fake.bin';
    const escape = '\u001b]0;pwned\u0007\u001b[31mred.bin';
    for (const name of [forged, escape, 'plain.bin']) fs.writeFileSync(path.join(runDir, name), name.slice(0, 3));
    const old = new Date(Date.now() - 60_000);
    for (const name of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, name), old, old);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${runDir}\n    store: ${path.join(t.dir, 'store')}\n    settle: 10ms\n    progress: none\n    backup: {every: never}\n`);
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

  it('a name that is not UTF-8 and holds a newline or escape is reported escaped by snapshot and status', async () => {
    const t = tempDir('ckptd-control-names-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    fs.mkdirSync(runDir);
    const name = Buffer.concat([Buffer.from([0xff]), Buffer.from('\nwarning: forged\u001b[31mred.bin')]);
    fs.writeFileSync(Buffer.concat([Buffer.from(`${runDir}/`), name]), 'x');
    fs.writeFileSync(path.join(runDir, 'plain.bin'), 'p');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${runDir}\n    store: ${path.join(t.dir, 'store')}\n    settle: 10ms\n    progress: none\n    backup: {every: never}\n`);
    const snap = await runCli(['snapshot', '--config', cfg]);
    expect(snap.code, snap.stderr).toBe(0);
    for (const l of snap.stderr.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(snap.stderr).toContain('\\xff\\x0awarning: forged\\x1b[31mred.bin');
    expect(snap.stderr.split('\n').filter((l) => l.startsWith('warning: forged'))).toEqual([]);
    const status = await runCli(['status', '--config', cfg]);
    for (const l of status.stdout.split('\n')) expect(l).not.toMatch(CONTROL);
    expect(status.stdout).toContain('\\xff\\x0awarning: forged');
  });

  it('a file with a newline in its name that vanishes mid-copy is warned about escaped, on one line', async () => {
    const t = tempDir('ckptd-control-names-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const store = path.join(t.dir, 'store');
    fs.mkdirSync(runDir);
    const name = 'big\nwarning: forged \u001b[31m.bin';
    // Above the small-file size: copied by the large-file path, where the pause below lands.
    fs.writeFileSync(path.join(runDir, name), Buffer.alloc(2 << 20, 5));
    fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
    const old = new Date(Date.now() - 60_000);
    for (const n of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, n), old, old);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `runs:\n  - name: r\n    path: ${runDir}\n    store: ${store}\n    settle: 10ms\n    progress: none\n    backup: {every: never}\n`);
    const proc = startDaemon(['snapshot', '--config', cfg], pauseEnv({ op: 'open', path: `${literal(path.join(store, '.staging'))}/[^/]+/files/big\n` }));
    cleanups.push(() => proc.stop('SIGKILL'));
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
  });
});
