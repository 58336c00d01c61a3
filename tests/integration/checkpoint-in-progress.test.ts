/**
 * A Hugging Face `checkpoint-N/` folder caught half-written. `Trainer._save_checkpoint` writes the
 * model, then `optimizer.pt`, `scheduler.pt` and `rng_state.pth`, and `trainer_state.json` last;
 * between them it can pause for longer than `settle` (safetensors serializes the whole model in
 * memory first, FSDP and DeepSpeed gather the optimizer state across GPUs) with no file open. A
 * backup taken in such a pause, restored by `ckptd run --resume`, hands the trainer a newest
 * `checkpoint-N` without optimizer state or trainer state. ckptd waits for `trainer_state.json`;
 * a folder that never gets one is left out of backups, which say so (incomplete), never complete.
 * kohya's accelerate `*-state/` folders, whose last file is `random_states_0.pkl`, OneTrainer's
 * backups (`meta.json`) and Lightning's DeepSpeed (`latest`) and sharded FSDP (`meta.pt`) `*.ckpt/`
 * folders likewise.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

function trainerState(step: number): string {
  return JSON.stringify({ epoch: step / 2, global_step: step, log_history: [{ epoch: step / 2, loss: 1 / step, step }] });
}

/** The files `_save_checkpoint` leaves in `checkpoint-N/`, in the order it writes them. */
const CHECKPOINT_FILES = ['model.safetensors', 'optimizer.pt', 'scheduler.pt', 'rng_state.pth', 'trainer_state.json'];

/** An earlier save, written a minute ago (settled from the start). */
function writeCheckpoint(runDir: string, step: number, files = CHECKPOINT_FILES): void {
  const ck = path.join(runDir, `checkpoint-${step}`);
  fs.mkdirSync(ck, { recursive: true });
  const past = new Date(Date.now() - 60_000);
  for (const f of files) {
    fs.writeFileSync(path.join(ck, f), f === 'trainer_state.json' ? trainerState(step) : `${f} of step ${step}`);
    fs.utimesSync(path.join(ck, f), past, past);
  }
}

/**
 * A trainer process saving the folder `dir`: the files of `before` (name -> content), then a pause
 * of `pauseMs` holding no file open, then those of `after`, in order. Resolves when it exits.
 */
function saveWithPause(dir: string, before: Record<string, string>, after: Record<string, string>, pauseMs: number): Promise<void> {
  const code = `const fs=require('fs'),p=require('path');const dir=${JSON.stringify(dir)};
const write=(files)=>{for(const [f,c] of Object.entries(files)){fs.mkdirSync(p.dirname(p.join(dir,f)),{recursive:true});fs.writeFileSync(p.join(dir,f),c);}};
fs.mkdirSync(dir,{recursive:true});write(${JSON.stringify(before)});setTimeout(()=>write(${JSON.stringify(after)}),${pauseMs});`;
  const p = spawn(process.execPath, ['-e', code], { stdio: 'inherit' });
  return new Promise((resolve, reject) => p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`trainer exited ${c}`)))));
}

/** A folder some earlier save left whole, written a minute ago (settled from the start). */
function writeFolder(dir: string, files: Record<string, string>): void {
  const past = new Date(Date.now() - 60_000);
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), content);
    fs.utimesSync(path.join(dir, f), past, past);
  }
}

interface Shown {
  id: string;
  files: { path: string }[];
  skipped: { path: string; reason: string }[];
  incomplete: boolean;
}

async function snapshots(cfg: string): Promise<Shown[]> {
  const list = JSON.parse((await runCli(['list', '--config', cfg, '--json'])).stdout) as { id: string; kind: string }[];
  const out: Shown[] = [];
  for (const r of list.filter((x) => x.kind === 'backup')) out.push(JSON.parse((await runCli(['show', r.id, '--config', cfg, '--json'])).stdout) as Shown);
  return out;
}

const filesIn = (s: Shown, dir: string): string[] => s.files.map((f) => f.path).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1)).sort();

/**
 * A run folder with the files `seed` writes before the daemon starts (a finished hf
 * `checkpoint-1/` unless told), with a daemon watching it that backs up every settled change.
 */
function startRun(
  ctx: Pick<TestContext, 'onTestFinished'>,
  settle: string,
  seed: (runDir: string) => void = (runDir) => writeCheckpoint(runDir, 1),
  progress = 'hf',
): { runDir: string; cfg: string; d: DaemonHandle } {
  const cleanup = testCleanups(ctx);
  const t = tempDir();
  cleanup(t.cleanup);
  const runDir = path.join(t.dir, 'out');
  fs.mkdirSync(runDir);
  seed(runDir);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log: {format: json, level: debug}\nruns:\n  - name: hf\n    path: ./out\n    progress: ${progress}\n    settle: ${settle}\n    backup: {every: always}\n    retention: {min_free: 1MB}\n`);
  const d = startDaemon(['daemon', '--config', cfg]);
  cleanup(() => d.stop());
  return { runDir, cfg, d };
}

describe.concurrent('a checkpoint folder being saved (hf)', () => {
  it('is not backed up until its trainer_state.json is written, through a pause longer than settle', async ({ onTestFinished }) => {
    // A settle (1 s; the hf preset's is 2 s) shorter than the trainer's 3 s pause.
    const { runDir, cfg, d } = startRun({ onTestFinished }, '1s');
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the backup of checkpoint-1');

    const rest = { 'optimizer.pt': 'optimizer', 'scheduler.pt': 'scheduler', 'rng_state.pth': 'rng', 'trainer_state.json': trainerState(2) };
    await saveWithPause(path.join(runDir, 'checkpoint-2'), { 'model.safetensors': 'model of step 2' }, rest, 3000);
    await d.waitFor((l) => l.event === 'snapshot' && l.step === 2, 20_000, 'the backup of checkpoint-2');
    expect(await d.stop()).toBe(0);

    const all = await snapshots(cfg);
    const holding = all.filter((s) => filesIn(s, 'checkpoint-2').length > 0);
    expect(holding.length).toBeGreaterThan(0);
    for (const s of holding) expect({ id: s.id, files: filesIn(s, 'checkpoint-2') }).toEqual({ id: s.id, files: [...CHECKPOINT_FILES].sort() });
    for (const s of all) expect(s.incomplete).toBe(false);
  });

  it('that never gets its trainer_state.json is left out of backups, each marked incomplete', async ({ onTestFinished }) => {
    // The trainer died saving checkpoint-2: its model is there, nothing after it.
    const { cfg, d } = startRun({ onTestFinished }, '100ms', (runDir) => {
      writeCheckpoint(runDir, 1);
      writeCheckpoint(runDir, 2, ['model.safetensors']);
    });
    const warned = await d.waitFor((l) => l.event === 'keeps-changing', 20_000, 'the warning about checkpoint-2');
    expect(warned.message).toMatch(/checkpoint-2 .*trainer_state\.json/);
    // A checkpoint being saved is not a file that keeps changing: excluding it would drop a real checkpoint.
    expect(warned.message).not.toMatch(/exclude/);
    const left = await d.waitFor((l) => l.event === 'never-settles', 20_000, 'checkpoint-2 left out');
    expect(left.message).toMatch(/^checkpoint-2 is still not saved whole .*trainer_state\.json.*incomplete/);
    expect(left.message).not.toMatch(/exclude/);
    const taken = await d.waitFor((l) => l.event === 'snapshot', 20_000, 'a backup without checkpoint-2');
    expect(await d.stop()).toBe(0);

    const [s] = (await snapshots(cfg)).filter((x) => x.id === taken.id);
    expect(filesIn(s!, 'checkpoint-1')).toEqual([...CHECKPOINT_FILES].sort());
    expect(filesIn(s!, 'checkpoint-2')).toEqual([]);
    expect(s!.skipped.map((x) => x.path)).toEqual(['checkpoint-2']);
    expect(s!.skipped[0]!.reason).toMatch(/^never saved whole: .*trainer_state\.json/);
    expect(s!.skipped[0]!.reason).not.toMatch(/exclude/);
    expect(s!.incomplete).toBe(true);
  });

  it('of kohya (accelerate save_state) is not backed up until its random_states_0.pkl is written', async ({ onTestFinished }) => {
    const { runDir, cfg, d } = startRun({ onTestFinished }, '1s', (runDir) => fs.writeFileSync(path.join(runDir, 'lora-000001.safetensors'), 'LoRA after epoch 1'), 'kohya');
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the backup of epoch 1');

    // sd-scripts' save hook writes train_state.json, then accelerate the model, optimizer,
    // scheduler and random states.
    const first = { 'train_state.json': JSON.stringify({ current_epoch: 2, current_step: 200 }), 'model.safetensors': 'model' };
    const rest = { 'optimizer.bin': 'optimizer', 'scheduler.bin': 'scheduler', 'random_states_0.pkl': 'rng' };
    fs.writeFileSync(path.join(runDir, 'lora-000002.safetensors'), 'LoRA after epoch 2');
    await saveWithPause(path.join(runDir, 'lora-000002-state'), first, rest, 3000);
    await d.waitFor((l) => l.event === 'snapshot' && l.step === 200, 20_000, 'the backup of lora-000002-state');
    expect(await d.stop()).toBe(0);

    const all = await snapshots(cfg);
    const holding = all.filter((s) => filesIn(s, 'lora-000002-state').length > 0);
    expect(holding.length).toBeGreaterThan(0);
    const whole = [...Object.keys(first), ...Object.keys(rest)].sort();
    for (const s of holding) expect({ id: s.id, files: filesIn(s, 'lora-000002-state') }).toEqual({ id: s.id, files: whole });
  });

});

// A suite of its own, after the one above: six daemons at once overran the first test's 30 s on a busy machine.
describe('a checkpoint folder of another trainer being saved', () => {
  /**
   * Other trainers' folders saved with a pause after `first`: a run of `progress` seeded with a
   * whole earlier save (`seed`: folder -> files), then `folder` saved as `first`, a 3 s pause, then
   * `rest`; every backup holding any of `folder` holds all of it.
   */
  const folderCases: { name: string; progress: string; seed: Record<string, Record<string, string>>; folder: string; step: number; first: Record<string, string>; rest: Record<string, string> }[] = [
    {
      // GenericTrainer.__backup: the model saver's model, optimizer/, ema/, then meta.json; then onetrainer_config/.
      name: 'of OneTrainer (a backup) is not backed up until its meta.json is written',
      progress: 'onetrainer',
      seed: { 'backup/2026-01-02_10-00-00-backup-100-1-0': { 'unet/model.safetensors': 'unet 100', 'optimizer/optimizer.pt': 'opt', 'meta.json': '{"train_progress":{"epoch":1,"epoch_step":0,"epoch_sample":0,"global_step":100}}' } },
      folder: 'backup/2026-01-02_11-00-00-backup-200-2-0',
      step: 200,
      first: { 'unet/model.safetensors': 'unet 200' },
      rest: { 'optimizer/optimizer.pt': 'opt', 'ema/ema.pt': 'ema', 'meta.json': '{"train_progress":{"epoch":2,"epoch_step":0,"epoch_sample":0,"global_step":200}}', 'onetrainer_config/args.json': '{}' },
    },
    {
      // DeepSpeed save_checkpoint with tag "checkpoint": model and optimizer states, zero_to_fp32.py, then latest.
      name: 'of Lightning\'s DeepSpeed strategy (a *.ckpt/ folder) is not backed up until its latest is written',
      progress: 'lightning',
      seed: { 'ck/epoch=0-step=100.ckpt': { 'checkpoint/mp_rank_00_model_states.pt': 'model', 'checkpoint/zero_pp_rank_0_mp_rank_00_optim_states.pt': 'optim', 'zero_to_fp32.py': '#', latest: 'checkpoint' } },
      folder: 'ck/epoch=1-step=200.ckpt',
      step: 200,
      first: { 'checkpoint/mp_rank_00_model_states.pt': 'model' },
      rest: { 'checkpoint/zero_pp_rank_0_mp_rank_00_optim_states.pt': 'optim', 'zero_to_fp32.py': '#', latest: 'checkpoint' },
    },
    {
      // FSDP sharded: each rank's .distcp, .metadata, then rank 0's meta.pt.
      name: 'of Lightning\'s FSDP strategy (a sharded *.ckpt/ folder) is not backed up until its meta.pt is written',
      progress: 'lightning',
      seed: { 'ck/epoch=0-step=100.ckpt': { '__0_0.distcp': 'shard', '.metadata': 'md', 'meta.pt': 'meta' } },
      folder: 'ck/epoch=1-step=200.ckpt',
      step: 200,
      first: { '__0_0.distcp': 'shard 0', '__1_0.distcp': 'shard 1' },
      rest: { '.metadata': 'md', 'meta.pt': 'meta' },
    },
  ];

  for (const c of folderCases) {
    it.concurrent(c.name, async ({ onTestFinished }) => {
      const seed = (runDir: string): void => Object.entries(c.seed).forEach(([dir, files]) => writeFolder(path.join(runDir, dir), files));
      const { runDir, cfg, d } = startRun({ onTestFinished }, '1s', seed, c.progress);
      await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the backup of the earlier save');

      await saveWithPause(path.join(runDir, c.folder), c.first, c.rest, 3000);
      await d.waitFor((l) => l.event === 'snapshot' && l.step === c.step, 20_000, `the backup of ${c.folder}`);
      expect(await d.stop()).toBe(0);

      const all = await snapshots(cfg);
      const holding = all.filter((s) => filesIn(s, c.folder).length > 0);
      expect(holding.length).toBeGreaterThan(0);
      const whole = [...Object.keys(c.first), ...Object.keys(c.rest)].sort();
      for (const s of holding) expect({ id: s.id, files: filesIn(s, c.folder) }).toEqual({ id: s.id, files: whole });
    });
  }
});
