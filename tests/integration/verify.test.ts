/**
 * `ckptd verify` end to end with the built CLI: two snapshots, one corrupted on disk; verify names
 * it and exits 1, `--json` is one parseable document, `list --json` shows it damaged, and verifying
 * the good one alone exits 0.
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

interface ReportItem {
  id: string;
  kind: string;
  status: string;
  missing: string[];
  changed: { path: string; reason: string }[];
  extra: string[];
}

function setup(): { cfg: string; runDir: string } {
  const t = tempDir('ckptd-verify-');
  cleanups.push(t.cleanup);
  const runDir = path.join(t.dir, 'run');
  fs.mkdirSync(runDir);
  const old = new Date(Date.now() - 60_000);
  for (const [rel, data] of [
    ['model.safetensors', Buffer.alloc(200_000, 5)],
    ['optimizer.pt', Buffer.alloc(100_000, 6)],
    ['config.json', '{"lr": 0.001}'],
  ] as const) {
    fs.writeFileSync(path.join(runDir, rel), data);
    fs.utimesSync(path.join(runDir, rel), old, old);
  }
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `runs:
  - name: train
    path: ${runDir}
    store: ${path.join(t.dir, 'store')}
    settle: 100ms
    progress: none
    backup:
      every: never
    retention:
      min_free: 1MB
`,
  );
  return { cfg, runDir };
}

async function snapshot(cfg: string, name: string): Promise<{ id: string; path: string }> {
  const r = await runCli(['snapshot', '--config', cfg, '--name', name, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const { id } = JSON.parse(r.stdout) as { id: string };
  const shown = await runCli(['show', id, '--config', cfg, '--json']);
  return { id, path: (JSON.parse(shown.stdout) as { path: string }).path };
}

describe('ckptd verify', () => {
  it('names a corrupted snapshot and exits 1, marks it damaged in list, and passes the good one', async () => {
    const { cfg } = setup();
    const good = await snapshot(cfg, 'good');
    const bad = await snapshot(cfg, 'bad');
    // The second snapshot hard-links the first's files: replace (new inode), never edit in place.
    const model = path.join(bad.path, 'model.safetensors');
    fs.unlinkSync(model);
    fs.writeFileSync(model, Buffer.alloc(200_000, 9), { mode: 0o444 });
    fs.unlinkSync(path.join(bad.path, 'optimizer.pt'));

    const text = await runCli(['verify', '--config', cfg]);
    expect(text.code, text.stderr).toBe(1);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toContain(`${bad.id} DAMAGED: 1 missing (optimizer.pt), 1 changed (model.safetensors: sha256 differs)`);
    expect(lines).toContain(`${good.id} ok`);
    expect(text.stdout).toMatch(/^2 verified, .* hashed: 1 ok, 1 damaged$/m);
    expect(text.stderr).toBe('');

    const json = await runCli(['verify', '--config', cfg, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; checked: number; damaged: number; records: ReportItem[]; broken: unknown[] };
    expect(report).toMatchObject({ ok: false, checked: 2, damaged: 1, broken: [] });
    expect(report.records.find((r) => r.id === bad.id)).toMatchObject({
      status: 'damaged',
      missing: ['optimizer.pt'],
      changed: [{ path: 'model.safetensors', reason: 'sha256 differs' }],
      extra: [],
    });
    expect(report.records.find((r) => r.id === good.id)).toMatchObject({ status: 'ok', missing: [], changed: [], extra: [] });

    const list = await runCli(['list', '--config', cfg, '--json']);
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as { id: string; damaged: boolean }[];
    expect(items.map((i) => [i.id, i.damaged])).toEqual([
      [bad.id, true],
      [good.id, false],
    ]);
    const table = await runCli(['list', '--config', cfg]);
    expect(table.stdout.split('\n').find((l) => l.startsWith(bad.id))).toMatch(/DAMAGED/);
    expect(table.stdout.split('\n').find((l) => l.startsWith(good.id))).not.toMatch(/DAMAGED/);

    const one = await runCli(['verify', good.id.slice(0, 22), '--config', cfg]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trim().split('\n')[0]).toBe(`${good.id} ok`);

    const unknown = await runCli(['verify', '20990101', '--config', cfg]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no snapshot or save matches "20990101"/);
  });
});
