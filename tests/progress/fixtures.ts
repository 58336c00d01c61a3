/**
 * Shared helpers for the progress tests: temp run folders, files with chosen mtimes, the file list
 * the daemon's scan would pass, and realistic trainer files.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { ProgressSpec } from '../../src/config/types.js';
import type { Progress } from '../../src/policy/types.js';
import { readProgress } from '../../src/progress/read-progress.js';
import { bufferRangeReader, readEnds } from '../../src/progress/read-range.js';
import type { RunFile, RunView } from '../../src/progress/types.js';
import { readZipEntryPrefix } from '../../src/progress/zip-entry.js';
import { scanState } from '../../src/store/scan.js';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
});

/** A new, empty run folder, removed after the test. */
export async function tempRun(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckptd-progress-test-'));
  made.push(dir);
  return dir;
}

/** A fixed base time for mtimes (2025-01-01T00:00:00Z), so tests never depend on the clock. */
export const T0 = Date.UTC(2025, 0, 1);

/**
 * Writes `content` at `root/rel` (creating folders) with mtime `T0 + minute` minutes, so tests can
 * order files by time explicitly.
 */
export function put(root: string, rel: string, content: string | Buffer = '', minute = 0): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  touch(file, minute);
  return file;
}

/** Sets the mtime of `file` to `T0 + minute` minutes. */
export function touch(file: string, minute: number): void {
  const t = new Date(T0 + minute * 60_000);
  fs.utimesSync(file, t, t);
}

/** The file list the daemon passes: its own scan of everything (ckptd's own files left out). */
export async function scanList(run: string): Promise<RunFile[]> {
  const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [] });
  return entries.map((e) => ({ path: e.path, mtimeMs: Number(BigInt(e.mtimeNs) / 1_000_000n) }));
}

/** `readProgress` as the daemon calls it: scan the run, then read. */
export async function progressOf(run: string, spec: ProgressSpec): Promise<Progress> {
  return readProgress(run, spec, await scanList(run));
}

/** An in-memory `RunView`: `files` maps relative paths to content (text or bytes) and mtime (minutes after T0). */
export function memoryView(files: Record<string, { text?: string; bytes?: Buffer; minute?: number }>): RunView {
  const mtime = (rel: string): number | null => (rel in files ? T0 + (files[rel]?.minute ?? 0) * 60_000 : null);
  return {
    files: Object.keys(files).map((p) => ({ path: p, mtimeMs: mtime(p) as number })),
    read: async (rel) => files[rel]?.text ?? null,
    readPrefix: async (rel, maxBytes) => {
      const f = files[rel];
      const bytes = f?.bytes ?? (f?.text === undefined ? undefined : Buffer.from(f.text));
      return bytes ? bytes.subarray(0, maxBytes) : null;
    },
    readRange: async (rel, position, length) => {
      const bytes = files[rel]?.bytes;
      return bytes ? bufferRangeReader(bytes).read(position, length) : null;
    },
    readZipPrefix: async (rel, pick, maxBytes) => {
      const bytes = files[rel]?.bytes;
      return bytes ? readZipEntryPrefix(bufferRangeReader(bytes), pick, maxBytes) : null;
    },
    readEnds: async (rel, headBytes, tailBytes) => {
      const f = files[rel];
      const bytes = f?.bytes ?? (f?.text === undefined ? undefined : Buffer.from(f.text));
      return bytes ? readEnds(bufferRangeReader(bytes), headBytes, tailBytes) : null;
    },
    mtimeMs: async (rel) => mtime(rel),
  };
}

export const AUTO: ProgressSpec = { kind: 'auto' };
export const NONE: ProgressSpec = { kind: 'none' };
export const preset = (name: 'hf' | 'lightning' | 'keras' | 'onetrainer' | 'kohya' | 'dfl'): ProgressSpec => ({ kind: 'preset', preset: name });

/**
 * `checkpoint-500/trainer_state.json` exactly as transformers' `TrainerState.save_to_json` writes it
 * (`json.dumps(asdict(state), indent=2, sort_keys=True)`): a run of 3 epochs × 500 steps, logging
 * every 250 steps, evaluating and saving every 500.
 */
export const HF_STATE_500 = `{
  "best_global_step": 500,
  "best_metric": 1.8734,
  "best_model_checkpoint": "out/checkpoint-500",
  "epoch": 1.0,
  "eval_steps": 500,
  "global_step": 500,
  "is_hyper_param_search": false,
  "is_local_process_zero": true,
  "is_world_process_zero": true,
  "log_history": [
    {
      "epoch": 0.5,
      "grad_norm": 3.2171289920806885,
      "learning_rate": 4.1766666666666666e-05,
      "loss": 2.4513,
      "step": 250
    },
    {
      "epoch": 1.0,
      "grad_norm": 2.871023416519165,
      "learning_rate": 3.343333333333333e-05,
      "loss": 2.0192,
      "step": 500
    },
    {
      "epoch": 1.0,
      "eval_loss": 1.8734,
      "eval_runtime": 12.3456,
      "eval_samples_per_second": 81.002,
      "eval_steps_per_second": 10.125,
      "step": 500
    }
  ],
  "logging_steps": 250,
  "max_steps": 1500,
  "num_input_tokens_seen": 0,
  "num_train_epochs": 3,
  "save_steps": 500,
  "stateful_callbacks": {
    "TrainerControl": {
      "args": {
        "should_epoch_stop": false,
        "should_evaluate": false,
        "should_log": false,
        "should_save": true,
        "should_training_stop": false
      },
      "attributes": {}
    }
  },
  "total_flos": 1045830123520000.0,
  "train_batch_size": 8,
  "trial_name": null,
  "trial_params": null
}
`;

/** `checkpoint-1000/trainer_state.json` of the same run: the last entry is an eval without `loss`. */
export const HF_STATE_1000 = `{
  "best_global_step": 1000,
  "best_metric": 1.6021,
  "best_model_checkpoint": "out/checkpoint-1000",
  "epoch": 2.0,
  "eval_steps": 500,
  "global_step": 1000,
  "is_hyper_param_search": false,
  "is_local_process_zero": true,
  "is_world_process_zero": true,
  "log_history": [
    {
      "epoch": 0.5,
      "grad_norm": 3.2171289920806885,
      "learning_rate": 4.1766666666666666e-05,
      "loss": 2.4513,
      "step": 250
    },
    {
      "epoch": 1.0,
      "grad_norm": 2.871023416519165,
      "learning_rate": 3.343333333333333e-05,
      "loss": 2.0192,
      "step": 500
    },
    {
      "epoch": 1.0,
      "eval_loss": 1.8734,
      "eval_runtime": 12.3456,
      "eval_samples_per_second": 81.002,
      "eval_steps_per_second": 10.125,
      "step": 500
    },
    {
      "epoch": 1.5,
      "grad_norm": 2.5519,
      "learning_rate": 2.51e-05,
      "loss": 1.7741,
      "step": 750
    },
    {
      "epoch": 2.0,
      "grad_norm": 2.3027,
      "learning_rate": 1.6766666666666667e-05,
      "loss": 1.6502,
      "step": 1000
    },
    {
      "epoch": 2.0,
      "eval_loss": 1.6021,
      "eval_runtime": 12.1187,
      "eval_samples_per_second": 82.518,
      "eval_steps_per_second": 10.315,
      "step": 1000
    }
  ],
  "logging_steps": 250,
  "max_steps": 1500,
  "num_input_tokens_seen": 0,
  "num_train_epochs": 3,
  "save_steps": 500,
  "stateful_callbacks": {
    "TrainerControl": {
      "args": {
        "should_epoch_stop": false,
        "should_evaluate": false,
        "should_log": false,
        "should_save": true,
        "should_training_stop": false
      },
      "attributes": {}
    }
  },
  "total_flos": 2091660247040000.0,
  "train_batch_size": 8,
  "trial_name": null,
  "trial_params": null
}
`;

/**
 * A minimal-but-real `trainer_state.json` for other steps (same key set, sorted like Python's
 * `sort_keys=True`); `history` becomes `log_history`.
 */
export function hfState(globalStep: number, epoch: number, history: Record<string, number>[]): string {
  const state = {
    best_global_step: null,
    best_metric: null,
    best_model_checkpoint: null,
    epoch,
    eval_steps: 500,
    global_step: globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: history,
    logging_steps: 250,
    max_steps: 1500,
    num_input_tokens_seen: 0,
    num_train_epochs: 3,
    save_steps: 500,
    stateful_callbacks: {},
    total_flos: 0,
    train_batch_size: 8,
    trial_name: null,
    trial_params: null,
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** The HF output folder used by several tests: `checkpoint-500/` and `checkpoint-1000/` with their usual files. */
export function makeHfRun(run: string): void {
  for (const [step, state, minute] of [[500, HF_STATE_500, 10], [1000, HF_STATE_1000, 20]] as const) {
    const dir = `checkpoint-${step}`;
    put(run, `${dir}/config.json`, '{"model_type": "gpt2"}', minute);
    put(run, `${dir}/model.safetensors`, 'weights', minute);
    put(run, `${dir}/optimizer.pt`, 'optimizer', minute);
    put(run, `${dir}/scheduler.pt`, 'scheduler', minute);
    put(run, `${dir}/rng_state.pth`, 'rng', minute);
    put(run, `${dir}/training_args.bin`, 'args', minute);
    put(run, `${dir}/trainer_state.json`, state, minute);
  }
}
