/**
 * What the series and the remote push benchmarks both keep: a training state that evolves over
 * generations, and ckptd's run over it, snapshotted as the daemon does for a settled state.
 *
 * The state (`total` bytes): a frozen text encoder and base model that never change (40%), weights
 * (20%) and optimizer (40%) rewritten every generation with fresh random bytes, and small
 * JSON/pickle files, some frozen, some changing. Paths stay the same across generations, as
 * trainers that overwrite their `last` checkpoint do (a new folder per checkpoint would be new
 * paths: nothing to share).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../src/config/load.js';
import type { RunConfig } from '../src/config/types.js';
import { captureSnapshot, scanRun } from '../src/ops/run-actions.js';
import { NO_PROGRESS } from '../src/policy/types.js';
import { ensureStore } from '../src/store/layout.js';
import type { SnapshotMeta } from '../src/store/types.js';
import { silentLogger } from '../src/util/logger.js';
import { note, writeRandom } from './lib.js';
import { formatBytes } from './report.js';

export interface TrainingState {
  /** The run folder. */
  run: string;
  total: number;
  /** Files that never change: path in the run, size (0: a small JSON). */
  frozen: [string, number][];
  /** Files rewritten every generation: path in the run, size. */
  changing: [string, number][];
  /** Bytes of the changing files (trainer_state.json aside). */
  changedBytes: number;
  frozenBytes: number;
  /** Rewrites the changing files with fresh random bytes, and trainer_state.json for `gen`. */
  newGeneration(gen: number): void;
}

/** Writes the frozen files of a `total`-byte state into the new folder `run`. */
export function buildState(run: string, total: number): TrainingState {
  const frozen: [string, number][] = [
    ['text_encoder/model.safetensors', Math.round(total * 0.15)],
    ['base_model.safetensors', Math.round(total * 0.25)],
    ['text_encoder/config.json', 0],
    ['config.json', 0],
  ];
  const changing: [string, number][] = [
    ['checkpoint/model.safetensors', Math.round(total * 0.2)],
    ['checkpoint/optimizer.pt', Math.round(total * 0.4)],
    ['checkpoint/scheduler.pt', 1_064],
    ['checkpoint/rng_state.pth', 14_244],
  ];
  fs.mkdirSync(path.join(run, 'text_encoder'), { recursive: true });
  fs.mkdirSync(path.join(run, 'checkpoint'), { recursive: true });
  note(`building a ${formatBytes(total)} training state in ${run}`);
  for (const [rel, size] of frozen) {
    if (rel.endsWith('.json')) fs.writeFileSync(path.join(run, rel), JSON.stringify({ model_type: 'bench', hidden_size: 768, layers: 12 }, null, 2));
    else writeRandom(path.join(run, rel), size);
  }
  const sum = (files: [string, number][]): number => files.reduce((n, [, s]) => n + s, 0);
  return {
    run,
    total,
    frozen,
    changing,
    changedBytes: sum(changing),
    frozenBytes: sum(frozen),
    newGeneration(gen) {
      for (const [rel, size] of changing) writeRandom(path.join(run, rel), size);
      fs.writeFileSync(path.join(run, 'trainer_state.json'), JSON.stringify({ epoch: gen, global_step: gen * 1000, log_history: [{ loss: 1 / gen }] }, null, 2));
    },
  };
}

/**
 * The run `bench` over `run` with its store in `root/store`, from a config file written to
 * `root/ckptd.yaml` (returned too: the CLI reads it); `top` is YAML added at the top level (a
 * `remote:`). The store is created, as the daemon does when it starts watching a run.
 */
export async function benchRun(root: string, run: string, top = ''): Promise<{ cfg: RunConfig; file: string }> {
  const file = path.join(root, 'ckptd.yaml');
  fs.writeFileSync(
    file,
    `log: {level: error, format: json}\n${top}runs:\n  - {name: bench, path: ${JSON.stringify(run)}, store: ./store, settle: 500ms, progress: none, model_type: bench, backup: {every: always}}\n`,
  );
  const cfg = loadConfigFile(file).runs[0]!;
  await ensureStore(cfg.store);
  return { cfg, file };
}

/** What the daemon does for a settled state: scan, then `captureSnapshot` (a backup taken at `now`). */
export async function snapshotNow(cfg: RunConfig, now: number): Promise<SnapshotMeta> {
  const entries = await scanRun(cfg);
  return captureSnapshot(cfg, entries, { kind: 'backup', trigger: 'bench', progress: NO_PROGRESS, now }, silentLogger);
}
