/**
 * The core loop end to end: the real daemon beside a simulated trainer that writes epoch by epoch.
 * Backups land exactly at the epochs the policy names, rolling keeps exactly `keep`, a save with its
 * prefix follows its backup, and a live config edit takes effect at the next multiple.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeEpoch } from '../../demo/fake-checkpoint.js';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';

const EPOCH = { stepsPerEpoch: 100, modelBytes: 300_000, optimizerBytes: 600_000 };

function config(runDir: string, every: string, extra = ''): string {
  return `log:
  level: debug
  format: json
runs:
  - name: train
    path: ${runDir}
    settle: 300ms
    progress: hf
    backup:
      every: ${every}
      keep: 2
    save:
      every: 4 epochs
      prefix: "exp1-"
      files: ["**/*.safetensors"]
    retention:
      min_free: 1MB
${extra}`;
}

interface ListItem {
  id: string;
  kind: string;
  trigger: string;
  epoch: number | null;
  step: number | null;
  path: string;
  created: string;
  from_snapshot?: string | null;
  model_type: string | null;
}

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** Writes epoch `e` and waits until the daemon has evaluated that settled state. */
async function trainEpoch(d: DaemonHandle, runDir: string, e: number): Promise<void> {
  await writeEpoch(runDir, e, EPOCH);
  await d.waitFor((l) => l.event === 'evaluated' && l.epoch === e, 30_000, `evaluation of epoch ${e}`);
}

describe('daemon with epoch policies', () => {
  it('backs up at the named epochs, rolls to keep, saves after its backup, and applies a live edit', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, '3 epochs'));

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    for (let e = 1; e <= 7; e++) await trainEpoch(d, runDir, e);

    // Live edit mid-run: every 3 epochs -> every 2 epochs.
    fs.writeFileSync(cfg, config(runDir, '2 epochs'));
    await d.waitFor((l) => l.event === 'config-reloaded', 20_000, 'config reload');
    for (let e = 8; e <= 10; e++) await trainEpoch(d, runDir, e);

    const backupEvents = d.lines.filter((l) => l.event === 'snapshot' && l.kind === 'backup');
    expect(backupEvents.map((l) => l.epoch)).toEqual([3, 4, 6, 8, 10]);
    expect(backupEvents.map((l) => l.trigger)).toEqual(['every 3 epochs', 'before-save', 'every 3 epochs', 'every 2 epochs', 'every 2 epochs']);

    // Each save comes right after the backup of the same state.
    const order = d.lines.filter((l) => l.event === 'snapshot' || l.event === 'save').map((l) => `${String(l.event)}@${String(l.epoch)}`);
    expect(order).toEqual(['snapshot@3', 'snapshot@4', 'save@4', 'snapshot@6', 'snapshot@8', 'save@8', 'snapshot@10']);

    const list = await runCli(['list', '--config', cfg, '--json']);
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as ListItem[];
    const backups = items.filter((i) => i.kind === 'backup');
    // Rolling keeps exactly `keep` (2): the newest ones.
    expect(backups.map((b) => b.epoch)).toEqual([10, 8]);
    const saves = items.filter((i) => i.kind === 'save');
    expect(saves.map((s) => s.epoch)).toEqual([8, 4]);
    for (const s of saves) {
      expect(path.basename(s.path)).toMatch(new RegExp(`^exp1-train-e${s.epoch}-s${s.epoch! * 100}-${s.id}\\.safetensors$`));
    }
    // The newest save is the model file of the state it was taken from (epoch 8's), byte for byte.
    const [b10, b8] = backups;
    expect(fs.readFileSync(saves[0]!.path).equals(fs.readFileSync(path.join(b8!.path, 'model.safetensors')))).toBe(true);
    // model_type comes from the trainer's config.json (Hugging Face layout).
    for (const item of [...backups, ...saves]) expect(item.model_type).toBe('demo-mlp');
    // Every backup holds the whole state as plain, read-only files.
    for (const b of backups) {
      const files = fs.readdirSync(b.path).sort();
      expect(files).toEqual(['config.json', 'model.safetensors', 'optimizer.pt', 'tokenizer.json', 'trainer_state.json']);
      expect(fs.statSync(path.join(b.path, 'model.safetensors')).mode & 0o222).toBe(0);
    }
    // Unchanged files are shared with the previous snapshot (hard links), changed ones are not.
    expect(fs.statSync(path.join(b10!.path, 'config.json')).ino).toBe(fs.statSync(path.join(b8!.path, 'config.json')).ino);
    expect(fs.statSync(path.join(b10!.path, 'model.safetensors')).ino).not.toBe(fs.statSync(path.join(b8!.path, 'model.safetensors')).ino);

    expect(await d.stop()).toBe(0);
  });

  it('keeps the old config when an edit is invalid, and names the line and key', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, '2 epochs'));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    await trainEpoch(d, runDir, 1);
    fs.writeFileSync(cfg, config(runDir, '2 epocs'));
    const bad = await d.waitFor((l) => l.event === 'config-invalid' && typeof l.line === 'number', 20_000, 'invalid config report');
    expect(bad.line).toBe(10);
    expect(bad.key).toMatch(/backup\.every/);
    expect(bad.message).toMatch(/2 epocs/);

    // Still every 2 epochs.
    await trainEpoch(d, runDir, 2);
    const backups = d.lines.filter((l) => l.event === 'snapshot');
    expect(backups.map((l) => l.epoch)).toEqual([2]);
    expect(await d.stop()).toBe(0);
  });

  it('takes a backup on request while running, and a second daemon on the same store refuses to start', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, 'never'));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    await trainEpoch(d, runDir, 1);

    const now = await runCli(['backup-now', '--config', cfg]);
    expect(now.stderr).toBe('');
    expect(now.code).toBe(0);
    const id = now.stdout.trim();
    const shown = await runCli(['show', id.slice(0, id.length - 2), '--config', cfg, '--json']);
    expect(shown.code).toBe(0);
    const meta = JSON.parse(shown.stdout) as ListItem;
    expect(meta).toMatchObject({ id, kind: 'backup', trigger: 'backup-now', epoch: 1, step: 100 });

    const second = await runCli(['daemon', '--config', cfg]);
    expect(second.code).toBe(3);
    expect(second.stdout + second.stderr).toMatch(new RegExp(`pid ${d.proc.pid}`));
    expect(await d.stop()).toBe(0);
  });

  it('after a restart on a restored state, backs up only once the state changes again', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir, 'always'));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    await trainEpoch(d, runDir, 1);
    await trainEpoch(d, runDir, 2);
    expect(await d.stop()).toBe(0);
    const listed = async (): Promise<ListItem[]> => JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as ListItem[];
    const epoch1 = (await listed()).find((r) => r.kind === 'backup' && r.epoch === 1)!;
    expect((await runCli(['restore', epoch1.id, '--yes', '--config', cfg])).code).toBe(0);
    const restored = await listed();
    expect(restored[0]!.kind).toBe('pre-restore');
    const before = restored.map((r) => r.id);

    // The restored state is epoch 1's, already stored: nothing to back up, though the newest snapshot differs.
    const again = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => again.stop());
    await again.waitFor((l) => l.event === 'evaluated' && l.epoch === 1, 30_000, 'evaluation of the restored state');
    expect((await listed()).map((r) => r.id)).toEqual(before);

    await trainEpoch(again, runDir, 2);
    const after = await listed();
    expect(after[0]).toMatchObject({ kind: 'backup', epoch: 2, trigger: 'every change' });
    expect(before).not.toContain(after[0]!.id);
  });
});
