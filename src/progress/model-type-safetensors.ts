/**
 * What a safetensors header says about the model, as short readable text. Pure over the header.
 *
 * Metadata keys come from the trainers that write them:
 * - OneTrainer (`modules/modelSaver/mixin/DtypeModelSaverMixin.py`): its ModelSpec
 *   (`modelspec.architecture` such as `stable-diffusion-xl-v1-base/lora`, `stable-diffusion-v2/lora`,
 *   `Flux.1-dev/lora`, `stable-diffusion-v1/embedding`), plus `ot_branch`, `ot_revision`, optionally `ot_config`, and
 *   kohya-compatible `ss_base_model_version: "sdxl_"` / `ss_v2: "True"` for other UIs.
 * - kohya-ss sd-scripts (`train_network.py`, `library/sai_model_spec.py`): `ss_network_module`
 *   (`networks.lora`, `networks.dylora`, `networks.oft`, `lycoris.kohya`, ...), `ss_network_args`
 *   (JSON, LyCORIS puts `algo` there), `ss_base_model_version` (`sd_v1`, `sd_v2`, `sd_v2_v`,
 *   `sdxl_base_v1-0`, `flux1`, ...), `ss_sd_model_name`, and Stability's ModelSpec keys
 *   (`modelspec.architecture` = `stable-diffusion-xl-v1-base/lora`, `modelspec.implementation_version`
 *   = `sd-scripts/<commit>` in recent versions).
 * - Hugging Face libraries (transformers, diffusers, PEFT) write only `format: "pt"`, which names a
 *   framework, not a model: those files are told apart by their tensor names.
 */
import { cleanName } from './model-type-text.js';

const ARCHITECTURE = 'modelspec.architecture';

/**
 * ModelSpec base architecture ids (lower-cased) with a well-known short name. OneTrainer writes
 * `stable-diffusion-v2` for SD 2.0 and 2.1 (`resources/sd_model_spec/sd_2.0-lora.json`,
 * `sd_2.1-lora.json`); sd-scripts (`library/sai_model_spec.py`) writes `-512` / `-768-v`.
 */
const ARCHITECTURE_NAMES: Readonly<Record<string, string>> = {
  'stable-diffusion-v1': 'SD 1.x',
  'stable-diffusion-v2': 'SD 2.x',
  'stable-diffusion-v2-512': 'SD 2.x',
  'stable-diffusion-v2-768-v': 'SD 2.x',
  'stable-diffusion-xl-v1-base': 'SDXL',
  'flux-1-dev': 'FLUX.1-dev',
  'flux.1-dev': 'FLUX.1-dev',
  'flux-1-schnell': 'FLUX.1-schnell',
  'flux.1-schnell': 'FLUX.1-schnell',
  'flux-1': 'FLUX.1',
};

/** ModelSpec adapter suffixes (after the `/`). */
const ADAPTER_NAMES: Readonly<Record<string, string>> = {
  lora: 'LoRA',
  embedding: 'embedding',
  'textual-inversion': 'embedding',
};

/** kohya `ss_base_model_version` values with a well-known short name. */
const KOHYA_BASES: Readonly<Record<string, string>> = {
  sd_v1: 'SD 1.x',
  sd_v1_v: 'SD 1.x',
  sd_v2: 'SD 2.x',
  sd_v2_v: 'SD 2.x',
  'sdxl_base_v1-0': 'SDXL',
  flux1: 'FLUX.1',
};

/** kohya `ss_network_module` values with a well-known short name. */
const KOHYA_NETWORKS: Readonly<Record<string, string>> = {
  'networks.lora': 'LoRA',
  'networks.dylora': 'DyLoRA',
  'networks.lora_fa': 'LoRA-FA',
  'networks.oft': 'OFT',
  'lycoris.kohya': 'LyCORIS',
};

/** LyCORIS `algo` values (in `ss_network_args`). */
const LYCORIS_ALGOS: Readonly<Record<string, string>> = {
  lora: 'LoCon',
  locon: 'LoCon',
  loha: 'LoHa',
  lokr: 'LoKr',
  ia3: 'IA3',
  dylora: 'DyLoRA',
  glora: 'GLoRA',
  full: 'full',
  'diag-oft': 'Diag-OFT',
  boft: 'BOFT',
};

/**
 * The model type `__metadata__` states, first match wins:
 * 1. OneTrainer (any `ot_*` key): the readable `modelspec.architecture` + ` (OneTrainer)`, e.g.
 *    `SDXL LoRA (OneTrainer)`; `OneTrainer model` without an architecture.
 * 2. kohya sd-scripts (`ss_network_module`, `ss_base_model_version`, or a `modelspec.implementation_version`
 *    of `sd-scripts/...`): base + network + ` (kohya)`, e.g. `SDXL LoRA (kohya)`,
 *    `SD 1.x LyCORIS LoKr (kohya)`, `SDXL checkpoint (kohya)`.
 * 3. Any other ModelSpec file: `modelspec.architecture` verbatim, e.g.
 *    `stable-diffusion-xl-v1-base/lora` (the spec's own id; the writer is unknown).
 * Null otherwise, including for Hugging Face's bare `format: "pt"`. Names are cleaned from a value's first
 * `MAX_NAME_SOURCE` characters; `ss_network_args` over 64 KiB is not parsed (no LyCORIS `algo`).
 */
export function modelTypeFromMetadata(metadata: Readonly<Record<string, string>>): string | null {
  const arch = cleanName(metadata[ARCHITECTURE]);
  if ('ot_branch' in metadata || 'ot_revision' in metadata || 'ot_config' in metadata) {
    return arch ? `${readableArchitecture(arch)} (OneTrainer)` : 'OneTrainer model';
  }
  const module = kohyaValue(metadata.ss_network_module);
  const version = kohyaValue(metadata.ss_base_model_version);
  const fromSdScripts = metadata['modelspec.implementation_version']?.startsWith('sd-scripts/') ?? false;
  if (module || version || fromSdScripts) {
    const base = (version && (KOHYA_BASES[version] ?? version)) ?? (arch && baseName(arch)) ?? (metadata.ss_v2 === 'True' ? 'SD 2.x' : null);
    const kind = module ? networkName(module, metadata.ss_network_args) : arch ? adapterName(arch) : 'model';
    return `${base ? `${base} ` : ''}${kind} (kohya)`;
  }
  return arch;
}

/**
 * The model type tensor names suggest, for files without telling metadata; deliberately few,
 * unambiguous patterns:
 * - `lora_unet_*` / `lora_te_*` / `lora_te1_*` / `lora_te2_*` / `lora_transformer_*` (kohya layout),
 *   or `.lora_A.` / `.lora_B.` / `.lora_down.` / `.lora_up.` / `.lora.down.` / `.lora.up.` in a name
 *   (PEFT, diffusers) → `LoRA`;
 * - `emb_params` (SD 1.x/2.x textual inversion) → `embedding`; `clip_l` + `clip_g` → `SDXL embedding`;
 * - `model.diffusion_model.*` (original Stable Diffusion layout) → `SDXL checkpoint` when
 *   `conditioner.embedders.*` is there too, else `Stable Diffusion checkpoint`.
 * Null when none applies.
 */
export function modelTypeFromTensorNames(names: readonly string[]): string | null {
  let diffusionModel = false;
  let sdxlConditioner = false;
  const embeddings = new Set<string>();
  for (const name of names) {
    if (/^lora_(?:unet|te[12]?|transformer)_/.test(name) || /\.lora(?:_A|_B|_down|_up|\.down|\.up)\./.test(name)) return 'LoRA';
    if (name === 'emb_params' || name === 'clip_l' || name === 'clip_g') embeddings.add(name);
    if (name.startsWith('model.diffusion_model.')) diffusionModel = true;
    if (name.startsWith('conditioner.embedders.')) sdxlConditioner = true;
  }
  if (embeddings.has('emb_params')) return 'embedding';
  if (embeddings.has('clip_l') && embeddings.has('clip_g')) return 'SDXL embedding';
  if (diffusionModel) return sdxlConditioner ? 'SDXL checkpoint' : 'Stable Diffusion checkpoint';
  return null;
}

/** A kohya metadata value; sd-scripts writes every value with `str()`, so an unset one reads `None`. */
function kohyaValue(value: string | undefined): string | null {
  const name = cleanName(value);
  return name === 'None' ? null : name;
}

/** `SDXL LoRA` for `stable-diffusion-xl-v1-base/lora`: known bases and adapters named, others as written. */
function readableArchitecture(arch: string): string {
  return `${baseName(arch)} ${adapterName(arch)}`;
}

function baseName(arch: string): string {
  const base = arch.split('/')[0] as string;
  return ARCHITECTURE_NAMES[base.toLowerCase()] ?? base;
}

/** The adapter part of an architecture id (`LoRA`, `embedding`, ...); `checkpoint` for a full model. */
function adapterName(arch: string): string {
  const slash = arch.indexOf('/');
  if (slash < 0) return 'checkpoint';
  const adapter = arch.slice(slash + 1);
  return ADAPTER_NAMES[adapter.toLowerCase()] ?? adapter;
}

function networkName(module: string, argsJson: string | undefined): string {
  const known = KOHYA_NETWORKS[module];
  if (known === 'LyCORIS') {
    const algo = lycorisAlgo(argsJson);
    return algo ? `LyCORIS ${LYCORIS_ALGOS[algo.toLowerCase()] ?? algo}` : known;
  }
  if (known) return known;
  // Model-specific variants (networks.lora_flux, networks.lora_sd3, networks.oft_flux, ...).
  if (/^networks\.lora_/.test(module)) return 'LoRA';
  if (/^networks\.oft_/.test(module)) return 'OFT';
  return module;
}

/** The longest `ss_network_args` parsed: sd-scripts writes a few `key=value` options there. */
const MAX_NETWORK_ARGS = 64 * 1024;

function lycorisAlgo(argsJson: string | undefined): string | null {
  if (argsJson === undefined || argsJson.length > MAX_NETWORK_ARGS) return null;
  try {
    const args: unknown = JSON.parse(argsJson);
    return typeof args === 'object' && args !== null && !Array.isArray(args) ? cleanName((args as Record<string, unknown>).algo) : null;
  } catch {
    return null;
  }
}
