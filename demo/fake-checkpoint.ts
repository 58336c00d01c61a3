/**
 * Writes the files a typical trainer writes at the end of an epoch, shaped like the real thing:
 * a safetensors model (valid header), an optimizer state, a Hugging Face style
 * `trainer_state.json`, and frozen files (config, tokenizer) that never change. Used by the demo
 * trainer and by the integration tests' simulated trainer.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface EpochOptions {
  stepsPerEpoch: number;
  /** Size of the model file in bytes. */
  modelBytes: number;
  /** Size of the optimizer file in bytes (Adam keeps about twice the weights). */
  optimizerBytes: number;
  /** Write the model in this many chunks with a pause between them, like a slow disk. */
  chunkPauseMs?: number;
}

/** The loss of a run that learns: falls from about 2.0 with a little noise. */
export function lossAt(epoch: number): number {
  return Number((0.35 + 1.7 * Math.exp(-epoch / 4) + 0.02 * Math.sin(epoch * 7)).toFixed(4));
}

/** A safetensors file: 8-byte little-endian header length, JSON header, then the tensor bytes. */
async function writeSafetensors(file: string, bytes: number, epoch: number, pauseMs: number): Promise<void> {
  const header = JSON.stringify({
    __metadata__: { format: 'pt', epoch: String(epoch), modelspec_architecture: 'demo-mlp' },
    'layer.weight': { dtype: 'F32', shape: [Math.max(1, Math.floor(bytes / 4))], data_offsets: [0, Math.floor(bytes / 4) * 4] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  // Written in place (open, truncate, write in chunks), as torch.save / safetensors do.
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(len);
    await fh.write(header);
    const chunks = 4;
    const per = Math.floor(Math.floor(bytes / 4) * 4 / chunks);
    for (let i = 0; i < chunks; i++) {
      await fh.write(randomBytes(per));
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  } finally {
    await fh.close();
  }
}

/** Writes epoch `epoch`'s files into `dir` (created if needed). */
export async function writeEpoch(dir: string, epoch: number, opts: EpochOptions): Promise<{ step: number; loss: number }> {
  await fs.mkdir(dir, { recursive: true });
  const step = epoch * opts.stepsPerEpoch;
  const loss = lossAt(epoch);
  await writeFrozenFiles(dir);
  await writeSafetensors(path.join(dir, 'model.safetensors'), opts.modelBytes, epoch, opts.chunkPauseMs ?? 0);
  // The optimizer is written to a temp name and renamed, as many trainers do.
  const tmp = path.join(dir, 'optimizer.pt.tmp');
  await fs.writeFile(tmp, randomBytes(opts.optimizerBytes));
  await fs.rename(tmp, path.join(dir, 'optimizer.pt'));
  const history = [];
  for (let e = 1; e <= epoch; e++) {
    history.push({ epoch: e, grad_norm: 1.1 / e, learning_rate: 5e-5 * (1 - e / 100), loss: lossAt(e), step: e * opts.stepsPerEpoch });
  }
  const state = {
    best_metric: null,
    best_model_checkpoint: null,
    epoch,
    eval_steps: 500,
    global_step: step,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: history,
    logging_steps: opts.stepsPerEpoch,
    max_steps: 100 * opts.stepsPerEpoch,
    num_input_tokens_seen: 0,
    num_train_epochs: 100,
    save_steps: opts.stepsPerEpoch,
    stateful_callbacks: {},
    total_flos: step * 1.5e12,
    train_batch_size: 8,
    trial_name: null,
    trial_params: null,
  };
  await fs.writeFile(path.join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2));
  return { step, loss };
}

/** Files written once that never change afterwards (snapshots hard-link them). */
async function writeFrozenFiles(dir: string): Promise<void> {
  const config = path.join(dir, 'config.json');
  const exists = await fs.stat(config).then(() => true, () => false);
  if (exists) return;
  await fs.writeFile(config, JSON.stringify({ model_type: 'demo-mlp', architectures: ['DemoMLP'], hidden_size: 256 }, null, 2));
  await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', vocab: Object.fromEntries([...Array(2000).keys()].map((i) => [`tok${i}`, i])) }));
}
