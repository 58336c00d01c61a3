/**
 * `ckptd init --preset NAME` against the folders those trainers really write: every file a resume
 * needs is in the backup, the progress source reads the run, and a save holds the model. The
 * layouts are the trainers' own, each citing the upstream code that writes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInit } from '../../src/cli/init.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { InitPreset } from '../../src/config/presets.js';
import type { RunConfig } from '../../src/config/types.js';
import { scanRun } from '../../src/ops/run-actions.js';
import { pickNewestModel } from '../../src/policy/pick-newest-model.js';
import { readProgress } from '../../src/progress/read-progress.js';
import { matchModelFiles } from '../../src/store/write-save.js';
import { hfState, put, tempRun } from '../progress/fixtures.js';

/** The run `init --preset` writes for `dir`, loaded as the daemon loads it. */
async function initRun(preset: InitPreset, dir: string): Promise<RunConfig> {
  const configPath = path.join(path.dirname(dir), `${preset}.yaml`);
  runInit({ dir, preset, configPath, force: false });
  return loadConfigFile(configPath).runs[0]!;
}

/** What a backup of `run` holds, and the progress the daemon reads from it. */
async function backupOf(run: RunConfig): Promise<{ files: string[]; progress: Awaited<ReturnType<typeof readProgress>> }> {
  const entries = await scanRun(run);
  const listed = entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) }));
  return { files: entries.map((e) => e.path), progress: await readProgress(run.path, run.progress, listed) };
}

/** The files a save of `run` exports (`save.files`, then `save.pick: newest`). */
async function saveOf(run: RunConfig): Promise<string[]> {
  return pickNewestModel(matchModelFiles(await scanRun(run), run.save.files)).files.map((e) => e.path);
}

describe('init --preset lightning', () => {
  // lightning/pytorch/strategies/deepspeed.py:669 (`DeepSpeedStrategy.save_checkpoint`):
  // `deepspeed_engine.save_checkpoint(filepath, client_state=checkpoint, tag="checkpoint")`, so the
  // checkpoint named `epoch=1-step=200.ckpt` is a folder holding `latest`, `zero_to_fp32.py` and
  // `checkpoint/` (tests/tests_pytorch/strategies/test_deepspeed.py:1196 lists exactly those).
  const DEEPSPEED = [
    'lightning_logs/version_0/checkpoints/epoch=1-step=200.ckpt/checkpoint/mp_rank_00_model_states.pt',
    'lightning_logs/version_0/checkpoints/epoch=1-step=200.ckpt/checkpoint/zero_pp_rank_0_mp_rank_00_optim_states.pt',
    'lightning_logs/version_0/checkpoints/epoch=1-step=200.ckpt/checkpoint/zero_pp_rank_1_mp_rank_00_optim_states.pt',
    'lightning_logs/version_0/checkpoints/epoch=1-step=200.ckpt/latest',
    'lightning_logs/version_0/checkpoints/epoch=1-step=200.ckpt/zero_to_fp32.py',
  ];
  // lightning/pytorch/strategies/fsdp.py:580-592 (`FSDPStrategy.save_checkpoint`, state_dict_type
  // "sharded"): a folder of `torch.distributed.checkpoint` shards plus `meta.pt`
  // (tests/tests_pytorch/strategies/test_fsdp.py:881: {"meta.pt", ".metadata", "__0_0.distcp", "__1_0.distcp"}).
  const FSDP = [
    'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt/.metadata',
    'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt/__0_0.distcp',
    'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt/__1_0.distcp',
    'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt/meta.pt',
  ];

  it.each([
    ['DeepSpeed', DEEPSPEED, { epoch: 2, step: 200 }],
    ['FSDP sharded', FSDP, { epoch: 3, step: 300 }],
  ])('backs up a %s checkpoint folder whole, reads its progress, and saves it', async (_, files, want) => {
    const dir = path.join(await tempRun(), 'exp1');
    for (const f of files) put(dir, f, 'x');
    put(dir, 'lightning_logs/version_0/hparams.yaml', 'lr: 0.001\n');
    const run = await initRun('lightning', dir);
    const { files: backedUp, progress } = await backupOf(run);
    expect(backedUp).toEqual([...files, 'lightning_logs/version_0/hparams.yaml'].sort());
    expect(progress).toMatchObject({ ...want, source: 'lightning' });
    expect(await saveOf(run)).toEqual(files);
  });
});

/** A kohya `lora-00000N-state/` folder (accelerate's save_state and sd-scripts' train_state.json). */
const state = (n: number): string[] => ['model.safetensors', 'optimizer.bin', 'random_states_0.pkl', 'scheduler.bin', 'train_state.json'].map((f) => `lora-00000${n}-state/${f}`);

describe('init --preset kohya', () => {
  // library/train_util.py:90-100 names the saves (`EPOCH_FILE_NAME = "{}-{:06d}"`, `EPOCH_STATE_NAME =
  // "{}-{:06d}-state"`); train_network.py:1696 saves `get_epoch_ckpt_name(args, "." + args.save_model_as,
  // epoch + 1)` with `--save_model_as` one of ckpt, pt, safetensors (train_network.py:1756-1759;
  // train_util.py:4690 for the full-model scripts: ckpt, safetensors, diffusers); accelerate's save_state
  // writes the state folder, train_network.py:944-948 its train_state.json.

  it.each([
    ['--output_dir, --save_model_as ckpt', '', 'ckpt'],
    ['--output_dir, --save_model_as pt', '', 'pt'],
    // The kohya_ss GUI's project folder: img/, log/, model/ (the output dir), reg/.
    ["the kohya_ss GUI's project folder", 'model/', 'safetensors'],
  ])('saves the newest model from %s', async (_, sub, ext) => {
    const dir = path.join(await tempRun(), 'project');
    for (const n of [1, 2]) {
      put(dir, `${sub}lora-00000${n}.${ext}`, 'x', n * 10);
      for (const f of state(n)) put(dir, `${sub}${f}`, f.endsWith('train_state.json') ? `{"current_epoch": ${n}, "current_step": ${n * 100}}` : 'x', n * 10);
    }
    if (sub) put(dir, 'img/10_ohwx woman/001.png', 'x');
    const run = await initRun('kohya', dir);
    expect((await backupOf(run)).progress).toMatchObject({ epoch: 2, step: 200, source: 'kohya' });
    expect(await saveOf(run)).toEqual([`${sub}lora-000002.${ext}`]);
  });
});

describe('init --preset kohya on the GUI project folder', () => {
  it("backs up the models and states of model/, leaving out the samples sd-scripts writes into it and the GUI's log/", async () => {
    // library/train_util.py:6438 `save_dir = args.output_dir + "/sample"`, named at :6573-6576
    // (`{output_name}_e{epoch:06d}_{i:02d}_{timestamp}.png`); :5441 TensorBoard's
    // `logging_dir/<prefix><timestamp>/`. The kohya_ss GUI gives output_dir = <project>/model and
    // logging_dir = <project>/log, and README lets the run be that project folder.
    const dir = path.join(await tempRun(), 'project');
    const kept = ['model/lora-000001.safetensors', ...state(1).map((f) => `model/${f}`)];
    for (const f of kept) put(dir, f, f.endsWith('train_state.json') ? '{"current_epoch": 1, "current_step": 100}' : 'x');
    put(dir, 'model/sample/lora_e000001_00_20250101100000.png', 'x');
    put(dir, 'log/20250101100000/network_train/events.out.tfevents.1735725600.host.1.0', 'x');
    const run = await initRun('kohya', dir);
    const { files, progress } = await backupOf(run);
    expect(files).toEqual(kept.sort());
    expect(progress).toMatchObject({ epoch: 1, step: 100, source: 'kohya' });
  });
});

describe('init --preset hf', () => {
  // transformers trainer.py `_save_checkpoint`: `save_model(output_dir)` (PreTrainedModel.save_pretrained:
  // config.json, generation_config.json, and model.safetensors or, past max_shard_size,
  // model-0000i-of-0000n.safetensors with model.safetensors.index.json; a PeftModel writes
  // adapter_config.json and adapter_model.safetensors instead), training_args.bin, then optimizer.pt,
  // scheduler.pt, rng_state.pth and trainer_state.json (names: transformers/utils/constants and the
  // top of trainer.py).
  const checkpoint = (step: number, model: string[]): string[] =>
    [...model, 'optimizer.pt', 'rng_state.pth', 'scheduler.pt', 'trainer_state.json', 'training_args.bin'].map((f) => `checkpoint-${step}/${f}`);
  const SHARDED = ['config.json', 'generation_config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json'];
  const PEFT = ['README.md', 'adapter_config.json', 'adapter_model.safetensors'];

  it.each([
    ['a sharded model', SHARDED, ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'training_args.bin']],
    ['a PEFT adapter', PEFT, ['adapter_config.json', 'adapter_model.safetensors', 'training_args.bin']],
  ])('backs up every checkpoint file and saves the newest checkpoint of %s as a loadable folder', async (_, model, saved) => {
    const dir = path.join(await tempRun(), 'output');
    for (const [step, minute] of [[500, 10], [1000, 20]] as const) {
      for (const f of checkpoint(step, model)) put(dir, f, f.endsWith('trainer_state.json') ? hfState(step, step / 500, [{ loss: 2 - step / 1000, step }]) : 'x', minute);
    }
    put(dir, 'runs/Dec02_09-00-00_host/events.out.tfevents.1764666000.host.1.0', 'x');
    const run = await initRun('hf', dir);
    const { files, progress } = await backupOf(run);
    expect(files).toEqual([...checkpoint(500, model), ...checkpoint(1000, model)].sort());
    expect(progress).toMatchObject({ epoch: 2, step: 1000, loss: 1, source: 'hf' });
    expect((await saveOf(run)).sort()).toEqual(saved.map((f) => `checkpoint-1000/${f}`));
  });
});

describe('init --preset hf on a folder above output_dir', () => {
  it('backs up the checkpoints of an output_dir named runs/NAME, leaving out only the TensorBoard events', async () => {
    // The README lets the run be output_dir "or a folder above it"; runs/ is a common place for
    // output dirs. TrainingArguments.logging_dir defaults to <output_dir>/runs/<date>_<host>, where
    // the TensorBoard callback writes only events.out.tfevents.* files.
    const dir = path.join(await tempRun(), 'project');
    const files = ['config.json', 'model.safetensors', 'optimizer.pt', 'rng_state.pth', 'scheduler.pt', 'trainer_state.json', 'training_args.bin'].map((f) => `runs/exp1/checkpoint-500/${f}`);
    for (const f of files) put(dir, f, f.endsWith('trainer_state.json') ? hfState(500, 1, [{ loss: 1.5, step: 500 }]) : 'x');
    put(dir, 'runs/exp1/runs/Dec02_09-00-00_host/events.out.tfevents.1764666000.host.1.0', 'x');
    const run = await initRun('hf', dir);
    const { files: backedUp, progress } = await backupOf(run);
    expect(backedUp).toEqual(files);
    expect(progress).toMatchObject({ epoch: 1, step: 500, loss: 1.5, source: 'hf' });
  });
});

/**
 * A OneTrainer backup folder: GenericTrainer.py `__backup` in ModelFormat.INTERNAL
 * (LoRASaverMixin._save_internal: lora/lora.safetensors, "the raw canonical in-memory dict (no
 * conversion)"), optimizer/optimizer.pt and meta.json (InternalModelSaverMixin), onetrainer_config/
 * (`__save_backup_config`).
 */
const onetrainerBackup = (name: string): string[] =>
  ['lora/lora.safetensors', 'meta.json', 'onetrainer_config/args.json', 'onetrainer_config/concepts.json', 'onetrainer_config/samples.json', 'optimizer/optimizer.pt'].map((f) => `backup/${name}/${f}`);

describe('init --preset onetrainer', () => {
  // modules/trainer/GenericTrainer.py `__backup`: backup/<time>-backup-<step>-<epoch>-<epoch step>/ in
  // ModelFormat.INTERNAL (LoRASaverMixin._save_internal: lora/lora.safetensors, "the raw canonical
  // in-memory dict (no conversion)"), optimizer/optimizer.pt and meta.json (InternalModelSaverMixin),
  // onetrainer_config/ (`__save_backup_config`); `__save`: save/<prefix><time>-save-<step>-<epoch>-<epoch
  // step><ext> in output_model_format, a .safetensors file or a diffusers folder (ModelFormat.file_extension).
  const DIFFUSERS = ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/config.json', 'text_encoder/model.safetensors', 'tokenizer/merges.txt', 'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json', 'tokenizer/vocab.json', 'unet/config.json', 'unet/diffusion_pytorch_model.safetensors', 'vae/config.json', 'vae/diffusion_pytorch_model.safetensors'];

  it.each([
    ['a LoRA file', ['2025-01-01_10-30-00-save-300-3-0.safetensors'], ['2025-01-01_11-30-00-save-600-6-0.safetensors']],
    ['a diffusers folder', DIFFUSERS.map((f) => `2025-01-01_10-30-00-save-300-3-0/${f}`), DIFFUSERS.map((f) => `2025-01-01_11-30-00-save-600-6-0/${f}`)],
  ])('saves the newest of save/ (%s), never the internal-format weights of a newer backup', async (_, older, newest) => {
    const dir = path.join(await tempRun(), 'run');
    for (const f of older) put(dir, `save/${f}`, 'x', 10);
    for (const f of newest) put(dir, `save/${f}`, 'x', 20);
    // Backup After 30 minutes: the newest file in the workspace is a backup's.
    for (const f of onetrainerBackup('2025-01-01_12-00-00-backup-700-7-0')) put(dir, f, 'x', 30);
    put(dir, 'tensorboard/events.out.tfevents.1735725600.host.1.0', 'x', 31);
    const run = await initRun('onetrainer', dir);
    expect((await backupOf(run)).progress).toMatchObject({ epoch: 7, step: 700, source: 'onetrainer' });
    expect((await saveOf(run)).sort()).toEqual(newest.map((f) => `save/${f}`).sort());
  });
});

describe('init --preset onetrainer on a folder above the workspace', () => {
  it('backs up and saves the workspace run/ under it, leaving out its samples and TensorBoard events', async () => {
    // TrainConfig.py:1018 workspace_dir defaults to "workspace/run"; GenericTrainer.py:232-240
    // writes samples to <workspace_dir>/samples/<i> - <prompt>/ (custom ones to samples/custom/),
    // :78 TensorBoard to <workspace_dir>/tensorboard, :441 backups to backup/, :487-491 saves to save/.
    const dir = path.join(await tempRun(), 'workspace');
    const kept = [...onetrainerBackup('2025-01-01_12-00-00-backup-700-7-0').map((f) => `run/${f}`), 'run/save/2025-01-01_11-30-00-save-600-6-0.safetensors'];
    for (const f of kept) put(dir, f, 'x', 10);
    put(dir, 'run/samples/0 - a photo of ohwx/2025-01-01_12-00-00-training-sample-700-7-0.png', 'x', 10);
    put(dir, 'run/samples/custom/2025-01-01_12-05-00-training-sample-700-7-0.png', 'x', 10);
    put(dir, 'run/tensorboard/events.out.tfevents.1735725600.host.1.0', 'x', 10);
    const run = await initRun('onetrainer', dir);
    const { files, progress } = await backupOf(run);
    expect(files).toEqual(kept.sort());
    expect(progress).toMatchObject({ epoch: 7, step: 700, source: 'onetrainer' });
    expect(await saveOf(run)).toEqual(['run/save/2025-01-01_11-30-00-save-600-6-0.safetensors']);
  });
});
