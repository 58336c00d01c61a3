/**
 * Detecting a snapshot's `model_type` from what the run's files say about themselves: Hugging Face
 * and PEFT configs, diffusers pipeline indexes, safetensors headers, Keras archives, and at last
 * file extensions. Reads only small files and bounded parts of big ones; never unpickles anything.
 */
import path from 'node:path';
import { newestDflModel } from './dfl-files.js';
import { modelTypeFromHfConfig, modelTypeFromModelIndex, modelTypeFromPeftConfig } from './model-type-hf.js';
import { modelTypeFromMetadata, modelTypeFromTensorNames } from './model-type-safetensors.js';
import { cleanName } from './model-type-text.js';
import { isPlainObject } from './numbers.js';
import { parseJson } from './parse-document.js';
import { readDocument } from './read-document.js';
import { diskView } from './read-progress.js';
import { readSafetensorsHeader } from './safetensors-header.js';
import { readZipEntry } from './zip-entry.js';
import { mtimeMsOf } from '../util/fs.js';

/** The biggest JSON document read (1 MiB): configs are a few KB. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** The biggest `config.json` read from inside a `.keras` archive (4 MiB). */
const MAX_KERAS_CONFIG_BYTES = 4 * 1024 * 1024;
/** How many files of one kind are tried: they normally all say the same, a few cover damaged ones. */
const MAX_DOCUMENTS_PER_KIND = 4;
/** How many safetensors headers are read at most (each at most 16 MiB, one at a time). */
const MAX_SAFETENSORS_FILES = 8;
const CHECKPOINT_DIR = /^checkpoint-(\d+)$/;
const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth']);

/** One file of the snapshot as listed: relative POSIX path inside the run folder, size, and mtime (ns) when known. */
export interface ListedFile {
  path: string;
  size: number;
  mtimeNs?: string;
}

/**
 * The model type of the run in `runDir` whose files are `files` (relative POSIX paths inside
 * `runDir`), as short readable text, or null when nothing says. The first clue that yields wins:
 *
 * 1. PEFT `adapter_config.json` → `LoRA on meta-llama/Meta-Llama-3-8B` (the trained thing is the
 *    adapter, even when the base model's `config.json` sits beside it);
 * 2. diffusers `model_index.json` → its pipeline `_class_name`, e.g. `StableDiffusionXLPipeline`;
 * 3. Hugging Face `config.json` → `model_type` (`llama`), else the first of `architectures`, else a
 *    diffusers model's `_class_name`; a `config.json` inside a folder that has a `model_index.json`
 *    is a pipeline component (`text_encoder/config.json` says `clip_text_model`) and is skipped;
 * 4. `.safetensors` headers: `__metadata__` first in every file read (OneTrainer, kohya sd-scripts,
 *    ModelSpec: `SDXL LoRA (kohya)`, `SDXL LoRA (OneTrainer)`, `stable-diffusion-xl-v1-base/lora`),
 *    then tensor names (`LoRA`, `Stable Diffusion checkpoint`, ...); see `model-type-safetensors.ts`;
 * 5. `.keras` archives → `Keras <class_name>` from their `config.json` (`Keras Sequential`), else
 *    `Keras model`;
 * 6. `.h5` / `.hdf5` → `Keras/HDF5`;
 * 7. DeepFaceLab `{name}_{Class}_data.dat` / `_summary.txt` → the class of the model saved last
 *    (`SAEHD`, `AMP`, `Quick96`, `XSeg`; see `dfl-files.ts`), from the names and mtimes only;
 * 8. `.ckpt` / `.pt` / `.pth` → `PyTorch checkpoint (.ckpt)`, from the extension only: pickles are
 *    never read.
 *
 * Within a kind, files nearer the run folder's top come first, then those in the `checkpoint-N`
 * folder with the highest N, then by path (descending); only the first few of each kind are read.
 * Reads at most 1 MiB of any JSON file, 16 MiB of a safetensors header, 4 MiB of a zip's central
 * directory and entry: never a whole model. Never rejects: missing, unreadable, garbled, truncated
 * or huge files are skipped for the next clue. `.ckptd-progress.json` and config overrides are
 * handled by the caller, not here.
 */
export async function detectModelType(runDir: string, files: readonly ListedFile[]): Promise<string | null> {
  try {
    return await detect(runDir, files);
  } catch {
    return null;
  }
}

async function detect(runDir: string, files: readonly ListedFile[]): Promise<string | null> {
  const clues = cluesOf(files);
  const view = diskView(runDir, [], MAX_DOCUMENT_BYTES);
  const firstDocument = async (paths: readonly string[], describe: (doc: unknown) => string | null): Promise<string | null> => {
    for (const rel of paths.slice(0, MAX_DOCUMENTS_PER_KIND)) {
      const found = describe(await readDocument(view, rel));
      if (found) return found;
    }
    return null;
  };

  const peft = await firstDocument(ranked(clues.adapterConfigs), modelTypeFromPeftConfig);
  if (peft) return peft;

  const indexes = ranked(clues.modelIndexes);
  const pipeline = await firstDocument(indexes, modelTypeFromModelIndex);
  if (pipeline) return pipeline;

  // A set and each config's folders: a list of every pipeline folder per config took configs x
  // indexes steps (100,000 of each in a crafted run: hours).
  const pipelineDirs = new Set(indexes.map((p) => path.posix.dirname(p)));
  const configs = ranked(clues.configs).filter((p) => !insideAny(p, pipelineDirs));
  const config = await firstDocument(configs, modelTypeFromHfConfig);
  if (config) return config;

  const fromSafetensors = await safetensorsModelType(runDir, ranked(clues.safetensors));
  if (fromSafetensors) return fromSafetensors;

  const keras = ranked(clues.keras);
  if (keras.length > 0) {
    for (const rel of keras.slice(0, MAX_DOCUMENTS_PER_KIND)) {
      const name = await kerasClassName(path.join(runDir, rel));
      if (name) return `Keras ${name}`;
    }
    return 'Keras model';
  }

  if (clues.hdf5 > 0) return 'Keras/HDF5';

  const dfl = newestDflModel(clues.dfl.map((f) => ({ path: f.path, mtimeMs: f.mtimeNs === undefined ? 0 : mtimeMsOf(f.mtimeNs) })));
  if (dfl) return dfl.modelClass;

  const pickle = ranked(clues.pickles)[0];
  return pickle ? `PyTorch checkpoint (${path.posix.extname(pickle).toLowerCase()})` : null;
}

/** The files each clue of `detect` looks at, in the order listed (see `cluesOf`). */
interface Clues {
  adapterConfigs: string[];
  modelIndexes: string[];
  configs: string[];
  safetensors: string[];
  keras: string[];
  hdf5: number;
  /** Names DeepFaceLab gives a model's `data.dat` and summary (`newestDflModel` decides). */
  dfl: ListedFile[];
  pickles: string[];
}

/**
 * Sorts the listed files into the few kinds `detect` reads, in one pass over the names: a run of
 * 100,000 small files took 120-330 ms a snapshot when each clue filtered the whole list again
 * (a basename, an extension or a DeepFaceLab pattern per file and per clue).
 */
function cluesOf(files: readonly ListedFile[]): Clues {
  const clues: Clues = { adapterConfigs: [], modelIndexes: [], configs: [], safetensors: [], keras: [], hdf5: 0, dfl: [], pickles: [] };
  for (const f of files) {
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    if (name === 'adapter_config.json') clues.adapterConfigs.push(f.path);
    else if (name === 'model_index.json') clues.modelIndexes.push(f.path);
    else if (name === 'config.json') clues.configs.push(f.path);
    if (name.endsWith('_data.dat') || name.endsWith('_summary.txt')) clues.dfl.push(f);
    const ext = path.posix.extname(name).toLowerCase();
    if (ext === '.safetensors') clues.safetensors.push(f.path);
    else if (ext === '.keras') clues.keras.push(f.path);
    else if (ext === '.h5' || ext === '.hdf5') clues.hdf5++;
    else if (PICKLE_EXTENSIONS.has(ext)) clues.pickles.push(f.path);
  }
  return clues;
}

/** True when `rel` is inside one of `dirs` (folders as `path.posix.dirname` gives them; `.` is the top). */
function insideAny(rel: string, dirs: ReadonlySet<string>): boolean {
  for (let at = rel; ; at = path.posix.dirname(at)) {
    if (dirs.has(at)) return true;
    if (!at.includes('/') || at === '/') return dirs.has('.');
  }
}

/** Metadata of any of the first few headers beats tensor names of any of them. */
async function safetensorsModelType(runDir: string, rels: readonly string[]): Promise<string | null> {
  let fromNames: string | null = null;
  for (const rel of rels.slice(0, MAX_SAFETENSORS_FILES)) {
    const header = await readSafetensorsHeader(path.join(runDir, rel));
    if (!header) continue;
    const fromMetadata = modelTypeFromMetadata(header.metadata);
    if (fromMetadata) return fromMetadata;
    fromNames ??= modelTypeFromTensorNames(header.tensorNames);
  }
  return fromNames;
}

/** The top-level `class_name` of the model config inside a `.keras` archive, or null. */
async function kerasClassName(file: string): Promise<string | null> {
  const bytes = await readZipEntry(file, 'config.json', MAX_KERAS_CONFIG_BYTES);
  if (!bytes) return null;
  const doc = parseJson(bytes.toString('utf8'));
  return isPlainObject(doc) ? cleanName(doc.class_name) : null;
}

/**
 * `paths` in the order they are tried: fewer path segments first, then the highest `checkpoint-N`
 * among their folders (none counts lowest), then descending path order.
 */
function ranked(paths: readonly string[]): string[] {
  const key = (p: string): { depth: number; checkpoint: number } => {
    const segments = p.split('/');
    let checkpoint = -1;
    for (const segment of segments.slice(0, -1)) {
      const m = CHECKPOINT_DIR.exec(segment);
      if (m) checkpoint = Math.max(checkpoint, Number(m[1]));
    }
    return { depth: segments.length, checkpoint };
  };
  return paths
    .map((p) => ({ p, ...key(p) }))
    .sort((a, b) => a.depth - b.depth || b.checkpoint - a.checkpoint || (a.p < b.p ? 1 : a.p > b.p ? -1 : 0))
    .map((x) => x.p);
}
