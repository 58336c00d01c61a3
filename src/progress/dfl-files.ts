/**
 * Which DeepFaceLab model of a run is the one in training, from the file names alone.
 *
 * DeepFaceLab keeps every model in one folder (`workspace/model`), each file named
 * `{model}_{what}` by `ModelBase.get_strpath_storage_for_file()`, where `{model}` is
 * `{name}_{Class}` (Class: `SAEHD`, `AMP`, `Quick96`) or just `XSeg` (`Model_XSeg` passes
 * `force_model_class_name='XSeg'`): `new_SAEHD_data.dat`, `new_SAEHD_summary.txt`,
 * `new_SAEHD_encoder.npy`, ..., `XSeg_data.dat`. `ModelBase.save()` writes the summary and
 * `data.dat` at every save, so the model whose files are newest is the one being trained (the
 * same rule DeepFaceLab uses to offer "latest" when it starts). Copies under `{model}_autobackups/`
 * and `{model}_history/` are never the model.
 */
import path from 'node:path/posix';
import type { RunFile } from './types.js';

/** The model classes of DeepFaceLab 2 (`models/Model_*`). */
export const DFL_CLASSES = ['SAEHD', 'AMP', 'Quick96', 'XSeg'] as const;
export type DflClass = (typeof DFL_CLASSES)[number];

const FILE_NAME = new RegExp(`^(?:(.+)_)?(${DFL_CLASSES.join('|')})_(data\\.dat|summary\\.txt)$`);
const NOT_A_MODEL_DIR = /_(?:autobackups|history)$/;

/** One DeepFaceLab model of the run: its `data.dat` and summary, as listed (either may be missing). */
export interface DflModel {
  /** DeepFaceLab's model name, `{name}_{Class}` (e.g. `new_SAEHD`) or `XSeg`. */
  name: string;
  modelClass: DflClass;
  data: RunFile | null;
  summary: RunFile | null;
  /** The newest mtime of its two files. */
  mtimeMs: number;
}

/**
 * The model whose `data.dat` or summary was written last, or null when the run has neither file
 * of any model. Ties go to the one with a `data.dat`, then to the first path in plain order.
 */
export function newestDflModel(files: readonly RunFile[]): DflModel | null {
  const models = new Map<string, DflModel>();
  for (const file of files) {
    // `FILE_NAME` ends in one of these: the other files of a large run skip the split below.
    if (!file.path.endsWith('_data.dat') && !file.path.endsWith('_summary.txt')) continue;
    const dir = path.dirname(file.path);
    if (dir !== '.' && dir.split('/').some((segment) => NOT_A_MODEL_DIR.test(segment))) continue;
    const m = FILE_NAME.exec(path.basename(file.path));
    if (!m) continue;
    const modelClass = m[2] as DflClass;
    const name = m[1] === undefined ? modelClass : `${m[1]}_${modelClass}`;
    const key = `${dir}/${name}`;
    const model = models.get(key) ?? { name, modelClass, data: null, summary: null, mtimeMs: file.mtimeMs };
    if (m[3] === 'data.dat') model.data = file;
    else model.summary = file;
    model.mtimeMs = Math.max(model.mtimeMs, file.mtimeMs);
    models.set(key, model);
  }
  let best: { key: string; model: DflModel } | null = null;
  for (const [key, model] of models) {
    if (!best || isNewer(model, key, best.model, best.key)) best = { key, model };
  }
  return best?.model ?? null;
}

function isNewer(a: DflModel, aKey: string, b: DflModel, bKey: string): boolean {
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs > b.mtimeMs;
  if ((a.data !== null) !== (b.data !== null)) return a.data !== null;
  return aKey < bKey;
}
