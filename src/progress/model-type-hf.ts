/**
 * What Hugging Face's JSON files say about the model, as short readable text. Pure over parsed
 * documents (`readDocument`), so these never see the disk.
 *
 * - transformers `config.json` (`PretrainedConfig.to_json_file`): `model_type` (`"llama"`) and
 *   `architectures` (`["LlamaForCausalLM"]`). A diffusers model's own `config.json` (`unet/`,
 *   `controlnet/`) has `_class_name` and `_diffusers_version` instead.
 * - PEFT `adapter_config.json` (`PeftConfigMixin.save_pretrained`, `json.dumps(indent=2,
 *   sort_keys=True)`): `peft_type` (`"LORA"`, `"LOHA"`, `"IA3"`, ...) and `base_model_name_or_path`.
 * - diffusers `model_index.json` (a whole pipeline): `_class_name` (`"StableDiffusionXLPipeline"`).
 */
import { isPlainObject } from './numbers.js';
import { cleanName } from './model-type-text.js';

/** PEFT `peft_type` values with their usual spelling. */
const PEFT_NAMES: Readonly<Record<string, string>> = {
  LORA: 'LoRA',
  LOHA: 'LoHa',
  LOKR: 'LoKr',
  ADALORA: 'AdaLoRA',
  IA3: 'IA3',
  OFT: 'OFT',
  BOFT: 'BOFT',
  PROMPT_TUNING: 'prompt tuning',
  P_TUNING: 'P-tuning',
  PREFIX_TUNING: 'prefix tuning',
};

/**
 * From a transformers `config.json`: `model_type`, else the first of `architectures`; for a
 * diffusers model config, its `_class_name`. Null when the document has none of these (it is some
 * other `config.json`).
 */
export function modelTypeFromHfConfig(doc: unknown): string | null {
  if (!isPlainObject(doc)) return null;
  const modelType = cleanName(doc.model_type);
  if (modelType) return modelType;
  if (Array.isArray(doc.architectures)) {
    const first = cleanName(doc.architectures[0]);
    if (first) return first;
  }
  return '_diffusers_version' in doc ? cleanName(doc._class_name) : null;
}

/**
 * From a PEFT `adapter_config.json`: `<method> on <base model>`, e.g. `LoRA on
 * meta-llama/Meta-Llama-3-8B`; a local base path is shortened to its last segment; `<method> (PEFT)`
 * without a base. Null without a `peft_type`.
 */
export function modelTypeFromPeftConfig(doc: unknown): string | null {
  if (!isPlainObject(doc)) return null;
  const peftType = cleanName(doc.peft_type);
  if (!peftType) return null;
  const method = PEFT_NAMES[peftType.toUpperCase()] ?? peftType;
  const base = baseModelName(doc.base_model_name_or_path);
  return cleanName(base ? `${method} on ${base}` : `${method} (PEFT)`);
}

/** From a diffusers `model_index.json`: the pipeline's `_class_name`. Null without one. */
export function modelTypeFromModelIndex(doc: unknown): string | null {
  return isPlainObject(doc) ? cleanName(doc._class_name) : null;
}

/** A Hub id (`org/name`) as is; a local path (absolute, `./`, `../`, `~`, Windows) as its last segment. */
function baseModelName(value: unknown): string | null {
  const name = cleanName(value);
  if (!name) return null;
  const isPath = /^(?:[/~.]|[A-Za-z]:[\\/])/.test(name) || name.includes('\\') || name.split('/').length > 2;
  if (!isPath) return name;
  const last = name.split(/[\\/]+/).filter((s) => s !== '').pop();
  return last ?? null;
}
