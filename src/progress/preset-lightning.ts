/**
 * The `lightning` preset: PyTorch Lightning `ModelCheckpoint` file names.
 *
 * The default name is `epoch={epoch}-step={step}.ckpt` (e.g. `checkpoints/epoch=3-step=400.ckpt`);
 * templates such as `{epoch}-{val_loss:.2f}` add `val_loss=0.12` parts, a clash adds `-v1`, and
 * DeepSpeed saves the checkpoint as a folder of that name. `epoch` is Lightning's 0-based epoch
 * index, kept as the file names show it.
 */
import { toCount } from './numbers.js';
import { pickFurthest } from './pick-furthest.js';
import type { Reading, RunView } from './types.js';

/** `key=number` parts, each starting the name or following `-`, `_` or a space. */
const PART = /(?<=^|[-_ ])([A-Za-z_][\w.]*?)=(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?=$|[-_ ])/g;
/** Keys taken as the loss, in order of preference. */
const LOSS_KEYS = ['loss', 'train_loss', 'val_loss'];

/**
 * Parses one checkpoint name (a file or folder name, extension and `-vN` suffix allowed) into its
 * `key=value` numbers. Null unless it holds `epoch=` or `step=`.
 */
export function parseLightningName(name: string): Record<string, number> | null {
  const stem = name.replace(/\.[A-Za-z][A-Za-z0-9]*$/, '').replace(/-v\d+$/, '');
  const values: Record<string, number> = {};
  for (const m of stem.matchAll(PART)) values[m[1] as string] = Number(m[2]);
  return 'epoch' in values || 'step' in values ? values : null;
}

/**
 * Progress from the checkpoint furthest along (highest step, then epoch, then newest mtime) among
 * every path segment named like a Lightning checkpoint. `loss` = `loss`, else `train_loss`, else
 * `val_loss`; metrics = every other `key=value` part (`val_loss` included). Null when none match.
 */
export async function readLightning(view: RunView): Promise<Reading | null> {
  const candidates = [];
  for (const file of view.files) {
    for (const segment of file.path.split('/')) {
      const values = parseLightningName(segment);
      if (values) candidates.push({ values, epoch: toCount(values.epoch), step: toCount(values.step), mtimeMs: file.mtimeMs });
    }
  }
  const best = pickFurthest(candidates);
  if (!best) return null;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(best.values)) if (k !== 'epoch' && k !== 'step' && k !== 'loss') metrics[k] = v;
  const lossKey = LOSS_KEYS.find((k) => k in best.values);
  return { epoch: best.epoch, step: best.step, loss: lossKey ? (best.values[lossKey] ?? null) : null, metrics, atMs: best.mtimeMs };
}
