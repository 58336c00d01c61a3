/**
 * Trainers that write whole `checkpoint-N/` folders and delete old ones (Hugging Face with
 * `save_total_limit`), with zero config (`ckptd watch`), plus the one-shot commands a person uses
 * without a daemon: `snapshot`, `list`, `show`, `check-config`, `init`, `progress`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

function trainerState(step: number, epoch: number): string {
  return JSON.stringify({ epoch, global_step: step, log_history: [{ epoch, loss: 1 / step, step }], max_steps: 10_000 });
}

/** Writes `checkpoint-<step>/` the way transformers does, then deletes checkpoints beyond the newest two. */
function writeCheckpoint(runDir: string, step: number): void {
  const ck = path.join(runDir, `checkpoint-${step}`);
  fs.mkdirSync(ck, { recursive: true });
  fs.writeFileSync(path.join(ck, 'model.safetensors'), Buffer.alloc(200_000, step % 251));
  fs.writeFileSync(path.join(ck, 'optimizer.pt'), Buffer.alloc(400_000, step % 13));
  fs.writeFileSync(path.join(ck, 'trainer_state.json'), trainerState(step, step / 100));
  const all = fs.readdirSync(runDir).filter((n) => n.startsWith('checkpoint-')).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
  for (const old of all.slice(0, -2)) fs.rmSync(path.join(runDir, old), { recursive: true });
}

// The first test mostly waits out the zero config's 2 s settle, six times; the one-shot commands
// run beside it (each test has its own folders).
describe.concurrent('checkpoint folders and zero config', () => {
  it('`ckptd watch DIR` backs up every settled checkpoint folder set and keeps 5', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir();
    cleanup(t.cleanup);
    const runDir = path.join(t.dir, 'out');
    fs.mkdirSync(runDir);
    const d = startDaemon(['watch', runDir, '--log-format', 'json']);
    cleanup(() => d.stop());
    await d.waitFor((l) => /watching/.test(l.message), 20_000, 'watch start');
    // Six checkpoints, each backed up once it settles (the zero config's 2 s): one more than keep.
    for (let i = 1; i <= 6; i++) {
      const seen = d.lines.length;
      writeCheckpoint(runDir, i * 100);
      await d.waitFor((l) => l.event === 'snapshot' && d.lines.indexOf(l) >= seen, 30_000, `backup of checkpoint-${i * 100}`);
    }
    // Stopping waits for the work in progress (rolling deletion runs right after each backup).
    expect(await d.stop('SIGINT')).toBe(0);
    const store = path.join(t.dir, '.ckptd', 'out', 'snapshots');
    const ids = fs.readdirSync(store).sort();
    expect(ids).toHaveLength(5);
    const newest = JSON.parse(fs.readFileSync(path.join(store, ids.at(-1)!, 'snapshot.json'), 'utf8')) as {
      files: { path: string }[];
      step: number;
      kind: string;
    };
    expect(newest.kind).toBe('backup');
    expect(newest.step).toBe(600);
    expect(newest.files.map((f) => f.path).sort()).toEqual([
      'checkpoint-500/model.safetensors',
      'checkpoint-500/optimizer.pt',
      'checkpoint-500/trainer_state.json',
      'checkpoint-600/model.safetensors',
      'checkpoint-600/optimizer.pt',
      'checkpoint-600/trainer_state.json',
    ]);
  });

  it('takes a named manual snapshot without a daemon and shows it', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir();
    cleanup(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'weights.bin'), Buffer.alloc(1000, 1));
    // `init` writes ./ckptd.yaml (the first place commands look) for the run folder it is given.
    const init = await runCli(['init', 'run', '--preset', 'generic'], { cwd: t.dir });
    expect(init.code).toBe(0);
    const cfgPath = path.join(t.dir, 'ckptd.yaml');
    expect(fs.readFileSync(cfgPath, 'utf8')).toMatch(/path: \.\/run|path: run/);
    const check = await runCli(['check-config', cfgPath]);
    expect(check.code).toBe(0);

    const progress = await runCli(['progress', '--config', cfgPath, '--epoch', '3', '--step', '1200', '--loss', '0.25', '--metric', 'eval_loss=0.3']);
    expect(progress.code).toBe(0);
    const snap = await runCli(['snapshot', '--config', cfgPath, '--name', 'looks good', '--notes', 'line one\nline two', '--pin']);
    expect(snap.stderr).toBe('');
    expect(snap.code).toBe(0);
    const id = snap.stdout.trim();
    const shown = JSON.parse((await runCli(['show', id, '--config', cfgPath, '--json'])).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ id, kind: 'manual', name: 'looks good', notes: 'line one\nline two', pinned: true, epoch: 3, step: 1200, loss: 0.25 });
    expect(shown.metrics).toMatchObject({ eval_loss: 0.3 });
    // backup-now with no daemon running takes the policy backup itself.
    const now = await runCli(['backup-now', '--config', cfgPath, '--json']);
    expect(now.code).toBe(0);
    const taken = JSON.parse(now.stdout) as { id: string; via_daemon: boolean };
    expect(taken.via_daemon).toBe(false);
    const backup = JSON.parse((await runCli(['show', taken.id, '--config', cfgPath, '--json'])).stdout) as Record<string, unknown>;
    expect(backup).toMatchObject({ kind: 'backup', trigger: 'backup-now', epoch: 3 });

    const table = await runCli(['list', '--config', cfgPath]);
    expect(table.stdout).toMatch(/looks good/);
    expect(table.stdout).toMatch(/e3\/s1200/);
  });

  it('reports bad input with the documented exit codes', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir();
    cleanup(t.cleanup);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'runs:\n  - name: a\n    path: ./run\n    backup:\n      evry: 3 epochs\n');
    const check = await runCli(['check-config', cfg]);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain(`${cfg}:5:7 runs.0.backup.evry:`);
    expect(check.stdout).toMatch(/did you mean .?every/);

    fs.writeFileSync(cfg, 'runs:\n  - name: a\n    path: ./run\n');
    const badId = await runCli(['show', '../../etc', '--config', cfg]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/error: /);
    const badKind = await runCli(['list', '--kind', 'weird', '--config', cfg]);
    expect(badKind.code).toBe(2);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
  });
});
