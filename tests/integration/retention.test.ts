/**
 * Storage that grows only with what changed, and retention a person can preview: 8 backups where
 * only the weights change cost about 8 x weights + 1 x the rest; deleting a snapshot frees exactly
 * what `list` said it alone holds; `prune --dry-run` explains every decision; max_size is enforced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const WEIGHTS = 2_000_000;
const FROZEN = 20_000_000;
/** Backups taken: enough that rolling keep=5 and the max_size cap each have some to remove. */
const N = 8;

/** Bytes on disk under `dir`, each inode once (what `du` counts). */
function diskBytes(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.statSync(p);
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) total += st.size;
        seen.add(key);
      }
    }
  };
  walk(dir);
  return total;
}

function config(keep: number, extra = ''): string {
  return `runs:\n  - name: r\n    path: ./run\n    settle: 100ms\n    progress: {file: state.json, step: step}\n    backup: {every: never, keep: ${keep}}\n    retention: {min_free: 0${extra}}\n`;
}

interface Item {
  id: string;
  kind: string;
  bytes: number;
  own_bytes: number;
  step: number;
}

describe('storage and retention', () => {
  it('stores each unchanged byte once, frees what list says, and prunes by keep and max_size with reasons', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'run');
    const store = path.join(t.dir, '.ckptd', 'r');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(30));
    const past = new Date(Date.now() - 60_000);
    fs.writeFileSync(path.join(run, 'text_encoder.safetensors'), Buffer.alloc(FROZEN, 7));
    fs.utimesSync(path.join(run, 'text_encoder.safetensors'), past, past);
    for (let g = 1; g <= N; g++) {
      fs.writeFileSync(path.join(run, 'unet_lora.safetensors'), Buffer.alloc(WEIGHTS, g));
      fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step: g * 100 }));
      for (const f of ['unet_lora.safetensors', 'state.json']) fs.utimesSync(path.join(run, f), past, new Date(past.getTime() + g * 1000));
      const r = await runCli(['backup-now', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
    }
    const stateJson = JSON.stringify({ step: N * 100 }).length;
    const onDisk = diskBytes(path.join(store, 'snapshots'));
    // N x weights + 1 x the rest, plus the small state files and snapshot.json manifests.
    expect(onDisk).toBeGreaterThanOrEqual(N * WEIGHTS + FROZEN);
    expect(onDisk).toBeLessThan(N * WEIGHTS + FROZEN + N * 20_000);

    const items = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as Item[];
    expect(items).toHaveLength(N);
    const middle = items[N / 2]!;
    expect(middle.bytes).toBe(FROZEN + WEIGHTS + stateJson);
    const manifest = fs.statSync(path.join(store, 'snapshots', middle.id, 'snapshot.json')).size;
    expect(middle.own_bytes).toBe(WEIGHTS + stateJson + manifest);
    const table = (await runCli(['list', '--config', cfg])).stdout;
    expect(table).toMatch(/OWN/);
    expect(table).toMatch(/8 record\(s\), 36\.\d MB on disk \(176\.\d MB before sharing unchanged files\)/);

    const before = diskBytes(store);
    const del = await runCli(['delete', middle.id, '--yes', '--json', '--config', cfg]);
    expect(del.code, del.stderr).toBe(0);
    expect((JSON.parse(del.stdout) as { freed_bytes: number }).freed_bytes).toBe(middle.own_bytes);
    expect(before - diskBytes(store)).toBe(middle.own_bytes);

    // Tighten keep to 5: the dry run explains every decision and deletes nothing.
    fs.writeFileSync(cfg, config(5));
    const dry = await runCli(['prune', '--dry-run', '--json', '--config', cfg]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { keep: { id: string; reasons: string[]; codes: string[] }[]; remove: { id: string; reasons: string[]; codes: string[] }[]; freed_bytes: number };
    expect(plan.keep.map((k) => k.id)).toEqual(items.filter((i) => i.id !== middle.id).slice(0, 5).map((i) => i.id));
    expect(plan.remove).toHaveLength(N - 1 - 5);
    for (const r of plan.remove) expect(r.reasons).toEqual(['beyond rolling keep=5']);
    for (const r of plan.remove) expect(r.codes).toEqual(['beyond-rolling']);
    expect(plan.keep[0]!.codes).toEqual(['newest-good', 'rolling']);
    // Each pruned backup owns its weights, state and manifest; the frozen file stays with the kept ones.
    const removedIds = new Set(plan.remove.map((r) => r.id));
    expect(plan.freed_bytes).toBe(items.filter((i) => removedIds.has(i.id)).reduce((n, i) => n + i.own_bytes, 0));
    expect(JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout)).toHaveLength(N - 1);
    const text = (await runCli(['prune', '--dry-run', '--config', cfg])).stdout;
    expect(text).toMatch(/^keep    \S+  newest good backup; one of the newest 5 backups \(#1\)$/m);
    expect(text).toMatch(/^delete \S+  beyond rolling keep=5$/m);

    const pruned = await runCli(['prune', '--config', cfg]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout)).toHaveLength(5);

    // max_size: 5 backups take 20 MB + 5 x 2 MB (+ small files); a 26.1 MB cap leaves the newest 3.
    fs.writeFileSync(cfg, config(5, ', max_size: 26.1MB, min_age: 0s'));
    const capped = await runCli(['prune', '--json', '--config', cfg]);
    expect(capped.code, capped.stderr).toBe(0);
    const left = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as Item[];
    expect(left.map((i) => i.step)).toEqual([N * 100, (N - 1) * 100, (N - 2) * 100]);
    expect(diskBytes(path.join(store, 'snapshots'))).toBeLessThanOrEqual(26_100_000);
  });
});
