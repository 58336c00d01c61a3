/**
 * Versioning from the terminal, as a user drives it: restore (pre-restore snapshot, byte identity,
 * refusal while a writer holds a file, confirmation without a terminal, --to), delete (last good
 * snapshot protected, space freed), diff, rename/note/pin — without and with a running daemon.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Meta {
  id: string;
  kind: string;
  name: string | null;
  notes: string | null;
  pinned: boolean;
  epoch: number | null;
  path: string;
  files: { path: string; sha256: string; size: number }[];
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
// Past times ending in .817 s: their double of seconds is stored as ...816999000 ns, so a restore
// must set the mtime back to exactly that microsecond (diff compares to it), not one below. Each
// state written gets its own second, as a trainer's writes would.
let generation = 0;
const old = (file: string, gen: number): void => {
  const t = new Date(1_795_450_853_817 + gen * 1000);
  fs.utimesSync(file, t, t);
};

function setup(every = 'never'): { dir: string; run: string; cfg: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - name: r\n    path: ./run\n    settle: 200ms\n    progress: {file: state.json, epoch: epoch}\n    backup: {every: ${every}}\n`);
  return { dir: t.dir, run, cfg };
}

function writeState(run: string, epoch: number, extra: Record<string, string> = {}): void {
  fs.writeFileSync(path.join(run, 'model.safetensors'), Buffer.alloc(300_000, epoch));
  fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ epoch }));
  for (const [k, v] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(run, k)), { recursive: true });
    fs.writeFileSync(path.join(run, k), v);
  }
  const gen = ++generation;
  for (const f of ['model.safetensors', 'state.json', ...Object.keys(extra)]) old(path.join(run, f), gen);
}

async function cli(args: string[], cfg: string) {
  return runCli([...args, '--config', cfg]);
}

async function show(id: string, cfg: string): Promise<Meta> {
  const r = await cli(['show', id, '--json'], cfg);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Meta;
}

async function list(cfg: string): Promise<Meta[]> {
  return JSON.parse((await cli(['list', '--json'], cfg)).stdout) as Meta[];
}

describe('restore, delete, diff and labels without a daemon', () => {
  it('restores a snapshot byte for byte after a pre-restore snapshot, and diff then sees no change', async () => {
    const { run, cfg } = setup();
    writeState(run, 1, { 'optimizer.pt': 'opt-1' });
    const a = (await cli(['snapshot', '--name', 'epoch one'], cfg)).stdout.trim();
    writeState(run, 2, { 'extra/new.bin': 'new' });
    fs.rmSync(path.join(run, 'optimizer.pt'));

    const before = await cli(['diff', a], cfg);
    expect(before.stdout).toMatch(/\+ extra\/new\.bin/);
    expect(before.stdout).toMatch(/- optimizer\.pt/);
    expect(before.stdout).toMatch(/~ model\.safetensors/);

    // No terminal and no --yes: refused, nothing changed.
    const refused = await cli(['restore', a], cfg);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/--yes/);
    expect(fs.existsSync(path.join(run, 'extra/new.bin'))).toBe(true);

    const r = await cli(['restore', a, '--yes', '--json'], cfg);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as { pre_restore: string; removed: string[]; written: string[] };
    expect(done.removed).toEqual(['extra/new.bin']);
    expect(done.written.sort()).toEqual(['model.safetensors', 'optimizer.pt', 'state.json']);

    const snap = await show(a, cfg);
    for (const f of snap.files) expect(sha(path.join(run, f.path))).toBe(f.sha256);
    // extra/ held only the removed file: the restore removed the folder it emptied.
    expect(fs.readdirSync(run).sort()).toEqual(['model.safetensors', 'optimizer.pt', 'state.json']);

    const pre = await show(done.pre_restore, cfg);
    expect(pre.kind).toBe('pre-restore');
    expect(pre.epoch).toBe(2);
    expect(pre.files.map((f) => f.path).sort()).toEqual(['extra/new.bin', 'model.safetensors', 'state.json']);

    const after = await cli(['diff', a, '--json'], cfg);
    const d = JSON.parse(after.stdout) as { added: unknown[]; removed: unknown[]; changed: unknown[] };
    expect([d.added, d.removed, d.changed]).toEqual([[], [], []]);
    // Snapshot to snapshot: what changed between the restored one and the pre-restore one.
    const between = JSON.parse((await cli(['diff', a, done.pre_restore, '--json'], cfg)).stdout) as { added: { path: string }[] };
    expect(between.added.map((f) => f.path)).toEqual(['extra/new.bin']);
  });

  it('refuses while a process holds a file of the run open for writing, naming it', async () => {
    const { run, cfg } = setup();
    writeState(run, 1);
    const a = (await cli(['snapshot'], cfg)).stdout.trim();
    const holder = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(path.join(run, 'model.safetensors'))}, 'r+'); console.log('open'); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => void holder.kill('SIGKILL'));
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const r = await cli(['restore', a, '--yes'], cfg);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`model\\.safetensors is open for writing by pid ${holder.pid}`));
    expect((await list(cfg)).filter((s) => s.kind === 'pre-restore')).toEqual([]);
  });

  it('--to restores elsewhere and leaves the run alone', async () => {
    const { dir, run, cfg } = setup();
    writeState(run, 1);
    const a = (await cli(['snapshot'], cfg)).stdout.trim();
    writeState(run, 5);
    const out = path.join(dir, 'copy');
    const r = await cli(['restore', a, '--yes', '--to', out], cfg);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'))).toEqual({ epoch: 1 });
    expect(JSON.parse(fs.readFileSync(path.join(run, 'state.json'), 'utf8'))).toEqual({ epoch: 5 });
    expect((await list(cfg)).map((s) => s.kind)).toEqual(['manual']);
    // A non-empty target is refused.
    expect((await cli(['restore', a, '--yes', '--to', out], cfg)).code).toBe(3);
  });

  it('deletes what it is asked to, frees what only that snapshot held, and protects the last good snapshot', async () => {
    const { run, cfg } = setup();
    writeState(run, 1, { 'frozen.bin': 'f'.repeat(50_000) });
    const a = (await cli(['snapshot'], cfg)).stdout.trim();
    writeState(run, 2);
    const b = (await cli(['snapshot'], cfg)).stdout.trim();

    const manifest = fs.statSync(path.join(path.dirname((await show(a, cfg)).path), 'snapshot.json')).size;
    const del = await cli(['delete', a, '--yes', '--json'], cfg);
    expect(del.code, del.stderr).toBe(0);
    const out = JSON.parse(del.stdout) as { deleted: string[]; freed_bytes: number };
    expect(out.deleted).toEqual([a]);
    // model.safetensors of epoch 1 and a's manifest were only a's; frozen.bin is shared with b (a hard link) and stays.
    expect(out.freed_bytes).toBe(300_000 + '{"epoch":1}'.length + manifest);
    expect(fs.statSync(path.join((await show(b, cfg)).path, 'frozen.bin')).size).toBe(50_000);

    const last = await cli(['delete', b, '--yes'], cfg);
    expect(last.code).toBe(3);
    expect(last.stderr).toMatch(/no good snapshot of this run would remain.*--force/);
    expect((await list(cfg)).map((s) => s.id)).toEqual([b]);
    expect((await cli(['delete', b, '--yes', '--force'], cfg)).code).toBe(0);
    expect(await list(cfg)).toEqual([]);

    const bad = await cli(['delete', '../../etc', '--yes'], cfg);
    expect(bad.code).toBe(2);
  });

  it('renames, re-notes, pins and unpins', async () => {
    const { run, cfg } = setup();
    writeState(run, 1);
    const a = (await cli(['snapshot'], cfg)).stdout.trim();
    expect((await cli(['rename', a, 'best so far'], cfg)).code).toBe(0);
    expect((await cli(['note', a, 'lr 1e-4\nlooks sharp'], cfg)).code).toBe(0);
    expect((await cli(['pin', a.slice(0, 20)], cfg)).code).toBe(0);
    expect(await show(a, cfg)).toMatchObject({ name: 'best so far', notes: 'lr 1e-4\nlooks sharp', pinned: true });
    expect((await cli(['unpin', a], cfg)).code).toBe(0);
    expect((await cli(['rename', a, ''], cfg)).code).toBe(0);
    expect(await show(a, cfg)).toMatchObject({ name: null, pinned: false });
    expect((await cli(['rename', a, 'two\nlines'], cfg)).code).toBe(2);
  });
});

describe('restore and delete through a running daemon', () => {
  it('goes through the daemon, which does not mistake the restore for trainer writes', async () => {
    const { run, cfg } = setup('always');
    writeState(run, 1);
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    const first = await d.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup', 20_000, 'first backup');
    writeState(run, 2);
    await d.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup' && l.epoch === 2, 20_000, 'second backup');

    const r = await cli(['restore', String(first.id), '--yes', '--json'], cfg);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as { via_daemon: boolean; pre_restore: string };
    expect(done.via_daemon).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'state.json'), 'utf8'))).toEqual({ epoch: 1 });

    // Give the watcher time to report the restore's writes, then make a real change.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const mark = d.lines.length;
    writeState(run, 3);
    await d.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup' && l.epoch === 3, 20_000, 'backup of epoch 3');
    const backupsAfterRestore = d.lines.filter((l) => l.event === 'snapshot' && l.kind === 'backup' && Number(l.epoch) === 1);
    expect(backupsAfterRestore.map((l) => l.id)).toEqual([first.id]);
    expect(d.lines.slice(mark).filter((l) => l.event === 'snapshot').map((l) => l.epoch)).toEqual([3]);

    const del = await cli(['delete', done.pre_restore, '--yes', '--json'], cfg);
    // Seen once in a full CI run (the pre-restore snapshot not found), never alone: what the store
    // and the daemon said then is what would explain it.
    const why = del.code === 0 ? '' : `\nthe store: ${(await cli(['list', '--json'], cfg)).stdout}\nthe daemon: ${d.lines.map((l) => JSON.stringify(l)).join('\n')}`;
    expect(del.code, `${del.stderr}${why}`).toBe(0);
    expect((JSON.parse(del.stdout) as { via_daemon: boolean }).via_daemon).toBe(true);
    expect(await d.stop()).toBe(0);
  });
});

describe('restore never writes outside the run', () => {
  it('refuses when a folder of the run became a symlink leading elsewhere, and changes nothing', async () => {
    const { dir, run, cfg } = setup();
    fs.mkdirSync(path.join(run, 'data'));
    writeState(run, 1, { 'data/shard.bin': 'inside' });
    const a = (await cli(['snapshot'], cfg)).stdout.trim();
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.rmSync(path.join(run, 'data'), { recursive: true });
    fs.symlinkSync(outside, path.join(run, 'data'));
    writeState(run, 2);
    const r = await cli(['restore', a, '--yes'], cfg);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refusing to act under \S+\/run\/data: it is a symlink \(to "[^"]+outside"\), which could lead outside/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'state.json'), 'utf8'))).toEqual({ epoch: 2 });
  });
});
