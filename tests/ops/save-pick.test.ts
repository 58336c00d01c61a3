/**
 * Issue 14: a save exports the newest model, not every version that matches `save.files`. A kohya
 * output folder holds one LoRA per saved epoch (`NAME-000001.safetensors`, ... from
 * `train_util.get_epoch_ckpt_name`), an HF output folder one `checkpoint-N/` per save
 * (`Trainer._save_checkpoint`); a save of either held all of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { RunConfig } from '../../src/config/types.js';
import { captureSnapshot, exportSave, progressOf, scanRun } from '../../src/ops/run-actions.js';
import { readProgress, runFilesOf } from '../../src/progress/read-progress.js';
import type { Logger } from '../../src/util/logger.js';
import { formatProblem } from '../../src/util/errors.js';
import { makeHfRun, put, tempRun } from '../progress/fixtures.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** The run as the loader makes it from `runYaml` (the keys after `name`, `path` and `store`). */
async function runOf(runYaml: string): Promise<RunConfig> {
  const base = await tempRun();
  const run = path.join(base, 'run');
  fs.mkdirSync(run);
  const file = path.join(base, 'ckptd.yaml');
  const text = `runs:\n  - name: lora\n    path: ./run\n    store: ./store\n    retention: {min_free: 0}\n${runYaml}`;
  const r = parseConfigText(text, file, base);
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config.runs[0]!;
}

/** A logger keeping its info lines. */
function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger: Logger & { lines: string[] } = { lines, error() {}, warn() {}, info: (m: string) => void lines.push(m), debug() {}, child: () => logger };
  return logger;
}

/** A save of the run's settled state as the daemon makes one when no backup precedes it. */
async function saveNow(run: RunConfig, logger: Logger = quiet): Promise<string[]> {
  const entries = await scanRun(run);
  const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
  const save = await exportSave(run, entries, progress, 'test', null, Date.now(), logger);
  return save.files.map((f) => f.path);
}

/** kohya's output folder after three saved epochs (`train_network.py`, `save_every_n_epochs: 1`). */
function kohyaEpochs(run: RunConfig): void {
  put(run.path, 'lora-000001.safetensors', 'epoch 1', 1);
  put(run.path, 'lora-000002.safetensors', 'epoch 2', 2);
  put(run.path, 'lora-000003.safetensors', 'epoch 3', 3);
}

describe('a save holds the newest model only', () => {
  it('kohya: the newest NAME-00000N.safetensors, not every epoch', async () => {
    const run = await runOf('    progress: kohya\n    save: {files: ["*.safetensors"]}\n');
    kohyaEpochs(run);
    put(run.path, 'logs/20250101000000/events.out.tfevents.1735689600.host', 'events', 3);
    expect(await saveNow(run)).toEqual(['lora-000003.safetensors']);
  });

  it('hf: the files of the newest checkpoint-N/, not of every checkpoint', async () => {
    const run = await runOf('    progress: hf\n    save: {files: ["**/*.safetensors", "**/*.bin"]}\n');
    makeHfRun(run.path);
    expect(await saveNow(run)).toEqual(['checkpoint-1000/model.safetensors', 'checkpoint-1000/training_args.bin']);
  });

  it('says in the save\'s log line which model it holds and which versions it left out', async () => {
    const run = await runOf('    progress: kohya\n    save: {files: ["*.safetensors"]}\n');
    kohyaEpochs(run);
    const logger = recording();
    await saveNow(run, logger);
    expect(logger.lines.find((l) => l.startsWith('save '))).toMatch(
      /; save\.pick newest: lora-000003\.safetensors; left out 2 older models: lora-000002\.safetensors, lora-000001\.safetensors$/,
    );
  });

  it('under progress: auto, once auto finds kohya; a file source keeps every match, and so does pick: all', async () => {
    const auto = await runOf('    save: {files: ["*.safetensors"]}\n');
    kohyaEpochs(auto);
    expect(await saveNow(auto)).toEqual(['lora-000003.safetensors']);

    const custom = await runOf('    progress: {file: state.json, step: step}\n    save: {files: ["*.safetensors"]}\n');
    kohyaEpochs(custom);
    put(custom.path, 'state.json', '{"step": 300}', 3);
    expect(await saveNow(custom)).toEqual(['lora-000001.safetensors', 'lora-000002.safetensors', 'lora-000003.safetensors']);

    const all = await runOf('    progress: kohya\n    save: {files: ["*.safetensors"], pick: all}\n');
    kohyaEpochs(all);
    expect(await saveNow(all)).toEqual(['lora-000001.safetensors', 'lora-000002.safetensors', 'lora-000003.safetensors']);
  });

  it('pick: newest on a file source; a save from the backup just taken picks among the versions it holds', async () => {
    const run = await runOf('    progress: {file: state.json, step: step}\n    save: {files: ["ckpt/*.pt"], pick: newest}\n');
    put(run.path, 'ckpt/model_step100.pt', 'step 100', 1);
    put(run.path, 'ckpt/model_step200.pt', 'step 200', 2);
    put(run.path, 'state.json', '{"step": 200}', 2);
    const entries = await scanRun(run);
    const progress = await readProgress(run.path, run.progress, runFilesOf(entries));
    const backup = await captureSnapshot(run, entries, { kind: 'backup', trigger: 'before-save', progress, now: Date.now() }, quiet);
    // The trainer writes step 300 after the backup: the save holds the backup's newest, step 200.
    put(run.path, 'ckpt/model_step300.pt', 'step 300', 3);
    const save = await exportSave(run, await scanRun(run), progressOf(backup, progress.source), 'test', backup, Date.now(), quiet);
    expect(save.files.map((f) => f.path)).toEqual(['ckpt/model_step200.pt']);
    expect(save.from_snapshot).toBe(backup.id);
  });
});
