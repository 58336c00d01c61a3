/**
 * `detectModelType`: each trainer's output layout, with files shaped like the real ones, → the
 * expected text; garbled, truncated, huge and missing files → the next clue or null, never a throw.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectModelType, type ListedFile } from '../../src/progress/model-type.js';
import { MAX_SAFETENSORS_HEADER_BYTES } from '../../src/progress/safetensors-header.js';
import { scanState } from '../../src/store/scan.js';
import { put, tempRun } from './fixtures.js';
import { safetensorsFile, safetensorsHeader, writeSparseZip, zipFile, type TensorSpec } from './model-files.js';

/** What the daemon passes: its own scan of the run (path and size of every file). */
async function listed(run: string): Promise<ListedFile[]> {
  return scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [] });
}

async function detect(run: string): Promise<string | null> {
  return detectModelType(run, await listed(run));
}

const GiB = 1024 * 1024 * 1024;

// --- Real file shapes ------------------------------------------------------------------------

/** A kohya LoRA module's three tensors (`lora_down`, `lora_up`, `alpha`), as networks/lora.py names them. */
function kohyaLoraTensors(module: string, dim = 4, inDim = 16, outDim = 16): Record<string, TensorSpec> {
  return {
    [`${module}.alpha`]: { dtype: 'F16', shape: [] },
    [`${module}.lora_down.weight`]: { dtype: 'F16', shape: [dim, inDim] },
    [`${module}.lora_up.weight`]: { dtype: 'F16', shape: [outDim, dim] },
  };
}

/**
 * `__metadata__` of an SDXL LoRA from sd-scripts' `sdxl_train_network.py`: the `ss_*` training
 * record (every value `str()`-ed, unset ones as `None`) plus the SAI ModelSpec keys.
 */
const KOHYA_SDXL_LORA_METADATA: Record<string, string> = {
  ss_session_id: '2921834772',
  ss_training_started_at: '1716900000.123456',
  ss_output_name: 'mychar',
  ss_learning_rate: '0.0001',
  ss_text_encoder_lr: '5e-05',
  ss_unet_lr: '0.0001',
  ss_num_train_images: '240',
  ss_num_reg_images: '0',
  ss_num_batches_per_epoch: '60',
  ss_num_epochs: '10',
  ss_gradient_checkpointing: 'True',
  ss_gradient_accumulation_steps: '1',
  ss_max_train_steps: '600',
  ss_lr_warmup_steps: '0',
  ss_lr_scheduler: 'cosine',
  ss_network_module: 'networks.lora',
  ss_network_dim: '32',
  ss_network_alpha: '16.0',
  ss_network_dropout: 'None',
  ss_mixed_precision: 'bf16',
  ss_full_fp16: 'False',
  ss_v2: 'False',
  ss_base_model_version: 'sdxl_base_v1-0',
  ss_clip_skip: 'None',
  ss_max_token_length: 'None',
  ss_cache_latents: 'True',
  ss_seed: '42',
  ss_lowram: 'False',
  ss_noise_offset: 'None',
  ss_training_comment: 'None',
  ss_sd_model_name: 'sd_xl_base_1.0.safetensors',
  ss_optimizer: 'bitsandbytes.optim.adamw.AdamW8bit',
  ss_epoch: '5',
  ss_steps: '300',
  ss_training_finished_at: '1716903600.654321',
  'modelspec.sai_model_spec': '1.0.0',
  'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora',
  'modelspec.implementation': 'https://github.com/Stability-AI/generative-models',
  'modelspec.title': 'mychar',
  'modelspec.resolution': '1024x1024',
  'modelspec.prediction_type': 'epsilon',
  'modelspec.date': '2024-05-28T12:00:00',
};

/**
 * `__metadata__` OneTrainer writes (`DtypeModelSaverMixin._create_safetensors_header`): its
 * ModelSpec from `resources/sd_model_spec/*.json`, `ot_branch`/`ot_revision`, and kohya-compatible
 * keys for other UIs.
 */
function oneTrainerMetadata(architecture: string, title: string, kohyaCompat: Record<string, string>): Record<string, string> {
  return {
    'modelspec.sai_model_spec': '1.0.0',
    'modelspec.architecture': architecture,
    'modelspec.implementation': 'https://github.com/huggingface/diffusers',
    'modelspec.title': title,
    'modelspec.date': '2024-06-02',
    'modelspec.hash_sha256': '0x5f2d0c0b3c1e9a7c7d55fbfb2f1f5c2a3a2e0e9a4f6f1e3c1b0a9d8c7b6a5f4e',
    ot_branch: 'master',
    ot_revision: '8f1c9f4b3f7e2d6a1c0b9e8d7f6a5b4c3d2e1f0a',
    ...kohyaCompat,
  };
}

/** `config.json` as transformers' `PretrainedConfig.to_json_file` writes it for Llama. */
const LLAMA_CONFIG = `{
  "_name_or_path": "meta-llama/Meta-Llama-3-8B",
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.0",
  "use_cache": true,
  "vocab_size": 128256
}
`;

/** PEFT's `adapter_config.json` (`json.dumps(asdict(config), indent=2, sort_keys=True)`). */
function adapterConfig(base: string | null): string {
  return `${JSON.stringify(
    {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: base,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 16,
      lora_dropout: 0.05,
      megatron_config: null,
      megatron_core: 'megatron.core',
      modules_to_save: null,
      peft_type: 'LORA',
      r: 8,
      rank_pattern: {},
      revision: null,
      target_modules: ['v_proj', 'q_proj'],
      task_type: 'CAUSAL_LM',
      use_dora: false,
      use_rslora: false,
    },
    null,
    2,
  )}`;
}

/** A PEFT `adapter_model.safetensors`: `base_model.model.<module>.lora_A/B.weight`, metadata `format: pt`. */
const PEFT_ADAPTER = safetensorsFile(
  {
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { dtype: 'F32', shape: [8, 32] },
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': { dtype: 'F32', shape: [32, 8] },
  },
  { format: 'pt' },
);

/** diffusers' `model_index.json` of an SDXL pipeline (`save_pretrained`). */
const SDXL_MODEL_INDEX = `{
  "_class_name": "StableDiffusionXLPipeline",
  "_diffusers_version": "0.27.2",
  "feature_extractor": [
    null,
    null
  ],
  "force_zeros_for_empty_prompt": true,
  "image_encoder": [
    null,
    null
  ],
  "scheduler": [
    "diffusers",
    "EulerDiscreteScheduler"
  ],
  "text_encoder": [
    "transformers",
    "CLIPTextModel"
  ],
  "text_encoder_2": [
    "transformers",
    "CLIPTextModelWithProjection"
  ],
  "tokenizer": [
    "transformers",
    "CLIPTokenizer"
  ],
  "tokenizer_2": [
    "transformers",
    "CLIPTokenizer"
  ],
  "unet": [
    "diffusers",
    "UNet2DConditionModel"
  ],
  "vae": [
    "diffusers",
    "AutoencoderKL"
  ]
}
`;

/** The `config.json` and `metadata.json` Keras 3 `model.save()` writes for a small Sequential model. */
function kerasJson(): { config: string; metadata: string } {
  const config = {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      trainable: true,
      dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null },
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 784], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null },
        { module: 'keras.layers', class_name: 'Dense', config: { name: 'dense', trainable: true, units: 10, activation: 'softmax', use_bias: true }, registered_name: null, build_config: { input_shape: [null, 784] } },
      ],
      build_input_shape: [null, 784],
    },
    registered_name: null,
    build_config: { input_shape: [null, 784] },
    compile_config: { optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
  };
  return { config: JSON.stringify(config), metadata: JSON.stringify({ keras_version: '3.3.3', date_saved: '2024-05-28@12:00:00' }) };
}

/** A `.keras` file (saving_lib: a zip of metadata.json, config.json, model.weights.h5). */
function kerasArchive(method: 'stored' | 'deflated' = 'stored'): Buffer {
  const { config, metadata } = kerasJson();
  const weights = Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), Buffer.alloc(2040)]);
  return zipFile({ 'metadata.json': metadata, 'config.json': config, 'model.weights.h5': weights }, method);
}

/** The first bytes of a `torch.save` file (a zip holding `archive/data.pkl`): never unpickled. */
const TORCH_SAVE_BYTES = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60, 1)]);

// --- Layouts ---------------------------------------------------------------------------------

type Layout = (run: string) => void;

const layouts: [string, Layout, string | null][] = [
  [
    'kohya sd-scripts SDXL LoRA (per-epoch saves and the final one)',
    (run) => {
      const tensors = {
        ...kohyaLoraTensors('lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_k'),
        ...kohyaLoraTensors('lora_te1_text_model_encoder_layers_0_self_attn_q_proj'),
      };
      put(run, 'output/mychar-000005.safetensors', safetensorsFile(tensors, { ...KOHYA_SDXL_LORA_METADATA, ss_epoch: '5' }));
      put(run, 'output/mychar.safetensors', safetensorsFile(tensors, { ...KOHYA_SDXL_LORA_METADATA, ss_epoch: '10' }));
      put(run, 'output/mychar-000005-state/train_state.json', '{"current_epoch": 5, "current_step": 300}');
    },
    'SDXL LoRA (kohya)',
  ],
  [
    'kohya sd-scripts SD 1.5 LyCORIS LoKr',
    (run) => {
      const meta = {
        ...KOHYA_SDXL_LORA_METADATA,
        ss_network_module: 'lycoris.kohya',
        ss_network_args: '{"conv_dim": "8", "conv_alpha": "4", "algo": "lokr"}',
        ss_base_model_version: 'sd_v1',
        ss_sd_model_name: 'v1-5-pruned-emaonly.safetensors',
        'modelspec.architecture': 'stable-diffusion-v1/lora',
        'modelspec.resolution': '512x512',
      };
      put(run, 'out/style.safetensors', safetensorsFile({ 'lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1': { dtype: 'F16', shape: [4, 4] } }, meta));
    },
    'SD 1.x LyCORIS LoKr (kohya)',
  ],
  [
    'kohya sd-scripts FLUX.1 LoRA (flux_train_network.py)',
    (run) => {
      const meta = {
        ...KOHYA_SDXL_LORA_METADATA,
        ss_network_module: 'networks.lora_flux',
        ss_base_model_version: 'flux1',
        'modelspec.architecture': 'flux-1-dev/lora',
        'modelspec.implementation': 'https://github.com/black-forest-labs/flux',
        'modelspec.implementation_version': 'sd-scripts/3c4a7ab6f1e9c2d8b5a4f3e2d1c0b9a8f7e6d5c4',
      };
      put(run, 'flux-lora-step00000500.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_double_blocks_0_img_attn_proj'), meta));
    },
    'FLUX.1 LoRA (kohya)',
  ],
  [
    'kohya sd-scripts SDXL fine-tune (ModelSpec only, implementation_version sd-scripts/...)',
    (run) => {
      const meta = {
        'modelspec.sai_model_spec': '1.0.1',
        'modelspec.architecture': 'stable-diffusion-xl-v1-base',
        'modelspec.implementation': 'https://github.com/Stability-AI/generative-models',
        'modelspec.implementation_version': 'sd-scripts/3c4a7ab6f1e9c2d8b5a4f3e2d1c0b9a8f7e6d5c4',
        'modelspec.title': 'Checkpoint@1716900000.1',
        'modelspec.resolution': '1024x1024',
        'modelspec.prediction_type': 'epsilon',
      };
      const tensors = {
        'model.diffusion_model.input_blocks.0.0.weight': { dtype: 'F16', shape: [320, 4, 3, 3] },
        'conditioner.embedders.1.model.ln_final.weight': { dtype: 'F16', shape: [1280] },
      };
      put(run, 'out/finetune-000002.safetensors', safetensorsFile(tensors, meta));
    },
    'SDXL checkpoint (kohya)',
  ],
  [
    'OneTrainer SDXL LoRA (kohya-compatible keys beside its own)',
    (run) => {
      const meta = oneTrainerMetadata('stable-diffusion-xl-v1-base/lora', 'Stable Diffusion XL 1.0 Base LoRA', { ss_base_model_version: 'sdxl_' });
      put(run, 'workspace/save/mychar-2024-06-02_12-00-00-save-600-10-0.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_input_blocks_4_1_proj_in'), meta));
    },
    'SDXL LoRA (OneTrainer)',
  ],
  [
    'OneTrainer SD 2.1 LoRA (sd_2.1-lora.json: stable-diffusion-v2/lora, ss_v2 beside it)',
    (run) => {
      const meta = oneTrainerMetadata('stable-diffusion-v2/lora', 'Stable Diffusion 2.1 LoRA', { ss_v2: 'True' });
      put(run, 'workspace/run/save/2024-06-02_12-00-00-save-600-10-0.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_down_blocks_0_attentions_0_proj_in'), meta));
    },
    'SD 2.x LoRA (OneTrainer)',
  ],
  [
    'OneTrainer FLUX.1-dev LoRA',
    (run) => {
      const meta = oneTrainerMetadata('Flux.1-dev/lora', 'FluxDev 1.0 LoRA', {});
      put(run, 'models/flux-char.safetensors', safetensorsFile(kohyaLoraTensors('lora_transformer_single_transformer_blocks_0_attn_to_q'), meta));
    },
    'FLUX.1-dev LoRA (OneTrainer)',
  ],
  [
    'OneTrainer SD 1.5 embedding',
    (run) => {
      const meta = oneTrainerMetadata('stable-diffusion-v1/embedding', 'Stable Diffusion 1.5 Embedding', {});
      put(run, 'models/emb.safetensors', safetensorsFile({ emb_params: { dtype: 'F32', shape: [2, 768] } }, meta));
    },
    'SD 1.x embedding (OneTrainer)',
  ],
  [
    'other ModelSpec writer: the architecture id as written',
    (run) => {
      const meta = { 'modelspec.sai_model_spec': '1.0.0', 'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora', 'modelspec.title': 'x' };
      put(run, 'lora.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_x'), meta));
    },
    'stable-diffusion-xl-v1-base/lora',
  ],
  [
    'LoRA without metadata: kohya tensor names',
    (run) => put(run, 'lora.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_mid_block_attentions_0_proj_in'))),
    'LoRA',
  ],
  [
    'diffusers LoRA script output (format: pt, PEFT-style names)',
    (run) => {
      const tensors = {
        'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k.lora_A.weight': { dtype: 'F32', shape: [4, 640] },
        'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k.lora_B.weight': { dtype: 'F32', shape: [640, 4] },
      };
      put(run, 'sdxl-lora-out/pytorch_lora_weights.safetensors', safetensorsFile(tensors, { format: 'pt' }));
    },
    'LoRA',
  ],
  [
    'original-layout SD 1.5 checkpoint without metadata',
    (run) => {
      const tensors = {
        'model.diffusion_model.input_blocks.0.0.weight': { dtype: 'F16', shape: [320, 4, 3, 3] },
        'cond_stage_model.transformer.text_model.final_layer_norm.weight': { dtype: 'F16', shape: [768] },
      };
      put(run, 'v1-5-finetuned.safetensors', safetensorsFile(tensors));
    },
    'Stable Diffusion checkpoint',
  ],
  [
    'transformers Trainer (full fine-tune, checkpoint folders)',
    (run) => {
      for (const step of [500, 1000]) {
        put(run, `out/checkpoint-${step}/config.json`, LLAMA_CONFIG);
        put(run, `out/checkpoint-${step}/model.safetensors`, safetensorsFile({ 'lm_head.weight': { dtype: 'BF16', shape: [8, 4] } }, { format: 'pt' }));
        put(run, `out/checkpoint-${step}/trainer_state.json`, '{"global_step": 1}');
        put(run, `out/checkpoint-${step}/optimizer.pt`, TORCH_SAVE_BYTES);
      }
    },
    'llama',
  ],
  [
    'transformers config.json without model_type: first of architectures',
    (run) => put(run, 'config.json', '{"architectures": ["MyCustomForCausalLM", "Other"], "hidden_size": 64}'),
    'MyCustomForCausalLM',
  ],
  [
    'PEFT LoRA via Trainer (adapter beside the base model config)',
    (run) => {
      for (const step of [200, 400]) {
        put(run, `checkpoint-${step}/adapter_config.json`, adapterConfig('meta-llama/Meta-Llama-3-8B'));
        put(run, `checkpoint-${step}/adapter_model.safetensors`, PEFT_ADAPTER);
        put(run, `checkpoint-${step}/config.json`, LLAMA_CONFIG);
        put(run, `checkpoint-${step}/rng_state.pth`, TORCH_SAVE_BYTES);
      }
    },
    'LoRA on meta-llama/Meta-Llama-3-8B',
  ],
  [
    'PEFT adapter of a local base model: the path shortened',
    (run) => {
      put(run, 'adapter_config.json', adapterConfig('/data/models/Llama-3-8B-Instruct/'));
      put(run, 'adapter_model.safetensors', PEFT_ADAPTER);
    },
    'LoRA on Llama-3-8B-Instruct',
  ],
  [
    'PEFT adapter without a base model',
    (run) => put(run, 'adapter_config.json', adapterConfig(null)),
    'LoRA (PEFT)',
  ],
  [
    'diffusers pipeline: model_index.json, not its components\' configs',
    (run) => {
      put(run, 'sdxl-finetuned/model_index.json', SDXL_MODEL_INDEX);
      put(run, 'sdxl-finetuned/text_encoder/config.json', '{"architectures": ["CLIPTextModel"], "model_type": "clip_text_model"}');
      put(run, 'sdxl-finetuned/unet/config.json', '{"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.27.2"}');
      put(run, 'sdxl-finetuned/unet/diffusion_pytorch_model.safetensors', safetensorsFile({ 'conv_in.weight': { dtype: 'F16', shape: [320, 4, 3, 3] } }, { format: 'pt' }));
    },
    'StableDiffusionXLPipeline',
  ],
  [
    'diffusers single model (ControlNet training output)',
    (run) => put(run, 'controlnet/config.json', '{"_class_name": "ControlNetModel", "_diffusers_version": "0.27.2", "in_channels": 4}'),
    'ControlNetModel',
  ],
  [
    'Keras 3 model.save("model.keras")',
    (run) => {
      put(run, 'model.keras', kerasArchive());
      put(run, 'backup/latest.weights.h5', Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'));
    },
    'Keras Sequential',
  ],
  ['a deflated .keras archive', (run) => put(run, 'model.keras', kerasArchive('deflated')), 'Keras Sequential'],
  ['a .keras file that is not a zip', (run) => put(run, 'model.keras', 'not a zip at all'), 'Keras model'],
  [
    'Keras BackupAndRestore (HDF5 weights only)',
    (run) => {
      put(run, 'backup/latest.weights.h5', Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'));
      put(run, 'backup/training_metadata.json', '{"epoch": 4, "batch": 0}');
    },
    'Keras/HDF5',
  ],
  [
    'PyTorch Lightning checkpoints',
    (run) => {
      put(run, 'lightning_logs/version_0/checkpoints/epoch=2-step=300.ckpt', TORCH_SAVE_BYTES);
      put(run, 'lightning_logs/version_0/hparams.yaml', 'lr: 0.001\n');
    },
    'PyTorch checkpoint (.ckpt)',
  ],
  ['plain torch.save', (run) => put(run, 'model_epoch_3.pt', TORCH_SAVE_BYTES), 'PyTorch checkpoint (.pt)'],
  ['an empty folder', () => undefined, null],
  ['only unrelated files', (run) => put(run, 'notes.txt', 'hello'), null],
];

describe('detectModelType: trainer layouts', () => {
  it.each(layouts)('%s', async (_name, make, expected) => {
    const run = await tempRun();
    make(run);
    expect(await detect(run)).toBe(expected);
  });
});

// --- Priority --------------------------------------------------------------------------------

describe('detectModelType: priority', () => {
  it('metadata in any of the headers read beats tensor names', async () => {
    const run = await tempRun();
    // Path order puts the metadata-less file first.
    put(run, 'b-plain.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_a')));
    put(run, 'a-kohya.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_a'), KOHYA_SDXL_LORA_METADATA));
    expect(await detect(run)).toBe('SDXL LoRA (kohya)');
  });

  it('a config.json beats safetensors headers; a garbled one falls through to them', async () => {
    const run = await tempRun();
    put(run, 'lora.safetensors', safetensorsFile(kohyaLoraTensors('lora_unet_a'), KOHYA_SDXL_LORA_METADATA));
    put(run, 'config.json', LLAMA_CONFIG);
    expect(await detect(run)).toBe('llama');
    put(run, 'config.json', '{"model_type": "llama", truncated');
    expect(await detect(run)).toBe('SDXL LoRA (kohya)');
  });

  it('the top-level config.json first, then the highest checkpoint-N', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-500/config.json', '{"model_type": "gpt2"}');
    put(run, 'checkpoint-1000/config.json', '{"model_type": "gpt_neox"}');
    expect(await detect(run)).toBe('gpt_neox');
    put(run, 'config.json', '{"model_type": "llama"}');
    expect(await detect(run)).toBe('llama');
  });

  it('a pipeline component\'s config.json never speaks for the run, even when model_index.json is damaged', async () => {
    const run = await tempRun();
    put(run, 'pipe/model_index.json', '{"_class_name": ');
    put(run, 'pipe/text_encoder/config.json', '{"architectures": ["CLIPTextModel"], "model_type": "clip_text_model"}');
    expect(await detect(run)).toBeNull();
    put(run, 'pipe/unet/diffusion_pytorch_model.safetensors', safetensorsFile({ 'conv_in.weight': { dtype: 'F16', shape: [4] } }, { format: 'pt' }));
    expect(await detect(run)).toBeNull();
    put(run, 'last.ckpt', TORCH_SAVE_BYTES);
    expect(await detect(run)).toBe('PyTorch checkpoint (.ckpt)');
  });

  it('a damaged newest file is skipped for an older one', async () => {
    const run = await tempRun();
    put(run, 'checkpoint-400/adapter_config.json', '{"peft_type": ');
    put(run, 'checkpoint-200/adapter_config.json', adapterConfig('Qwen/Qwen2-0.5B'));
    expect(await detect(run)).toBe('LoRA on Qwen/Qwen2-0.5B');
  });

  it('garbled model files fall through to the next clue', async () => {
    const run = await tempRun();
    put(run, 'model.safetensors', Buffer.from('garbage that is not a safetensors file'));
    put(run, 'model.keras', 'also garbage');
    put(run, 'last.ckpt', TORCH_SAVE_BYTES);
    expect(await detect(run)).toBe('Keras model');
    fs.rmSync(path.join(run, 'model.keras'));
    expect(await detect(run)).toBe('PyTorch checkpoint (.ckpt)');
  });

  it('names are cleaned: control characters, whitespace and length', async () => {
    const run = await tempRun();
    put(run, 'config.json', JSON.stringify({ model_type: `  my\nmodel\t${'x'.repeat(500)}` }));
    const found = await detect(run);
    expect(found).toMatch(/^my model x+…$/);
    expect(found!.length).toBe(120);
  });
});

// --- Bad and huge files --------------------------------------------------------------------------

/**
 * A safetensors file from raw header bytes: `json` padded with spaces to a multiple of 8, its
 * length field `length` (default: the padded length), then `data`.
 */
function rawSafetensors(json: Buffer | string, opts: { length?: bigint; data?: Buffer } = {}): Buffer {
  let body = Buffer.isBuffer(json) ? json : Buffer.from(json, 'utf8');
  body = Buffer.concat([body, Buffer.alloc((8 - (body.length % 8)) % 8, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(opts.length ?? BigInt(body.length));
  return Buffer.concat([prefix, body, opts.data ?? Buffer.alloc(0)]);
}

const validLora = safetensorsFile(kohyaLoraTensors('lora_unet_a'), KOHYA_SDXL_LORA_METADATA);
const { header: validHeader } = safetensorsHeader(kohyaLoraTensors('lora_unet_a'), KOHYA_SDXL_LORA_METADATA);
const KOHYA_ONLY = '{"__metadata__":{"ss_network_module":"networks.lora"}}';

/** Each is what would be detected as `LoRA (kohya)` or `LoRA` but for the one defect it is named for. */
const badSafetensors: [string, Buffer][] = [
  ['empty file', Buffer.alloc(0)],
  ['shorter than the length field', Buffer.from([1, 2, 3])],
  ['header length zero', rawSafetensors(KOHYA_ONLY, { length: 0n })],
  ['header length 2^64 - 1', rawSafetensors(KOHYA_ONLY, { length: 2n ** 64n - 1n })],
  ['header length past the end of the file', rawSafetensors(KOHYA_ONLY, { length: 4096n })],
  ['truncated inside the header', validLora.subarray(0, validHeader.length - 10)],
  ['truncated inside the tensor data', validLora.subarray(0, validLora.length - 3)],
  ['header not starting with {', rawSafetensors(` ${KOHYA_ONLY}`)],
  ['header not JSON', rawSafetensors(KOHYA_ONLY.slice(0, -1))],
  ['header not UTF-8', rawSafetensors(Buffer.concat([Buffer.from(KOHYA_ONLY.slice(0, -3)), Buffer.from([0xff]), Buffer.from(KOHYA_ONLY.slice(-3))]))],
  ['header a JSON array', rawSafetensors(`[${KOHYA_ONLY}]`)],
  ['__metadata__ not an object', rawSafetensors('{"__metadata__":"networks.lora","lora_unet_a.alpha":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}', { data: Buffer.alloc(2) })],
  ['tensor without data_offsets', rawSafetensors('{"__metadata__":{"ss_network_module":"networks.lora"},"lora_unet_a.alpha":{"dtype":"F16","shape":[]}}')],
  ['data_offsets reversed', rawSafetensors('{"__metadata__":{"ss_network_module":"networks.lora"},"lora_unet_a.alpha":{"dtype":"F16","shape":[],"data_offsets":[2,0]}}', { data: Buffer.alloc(2) })],
  ['data_offsets past the data', rawSafetensors('{"__metadata__":{"ss_network_module":"networks.lora"},"lora_unet_a.alpha":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}', { data: Buffer.alloc(1) })],
  ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 17) & 0xff))],
];

describe('detectModelType: bad safetensors files → null, never a throw', () => {
  it.each(badSafetensors)('%s', async (_name, bytes) => {
    const run = await tempRun();
    put(run, 'model.safetensors', bytes);
    expect(await detect(run)).toBeNull();
  });

  it('the valid files these are made from are detected', async () => {
    const run = await tempRun();
    put(run, 'model.safetensors', validLora);
    expect(await detect(run)).toBe('SDXL LoRA (kohya)');
    put(run, 'model.safetensors', rawSafetensors(KOHYA_ONLY));
    expect(await detect(run)).toBe('LoRA (kohya)');
    const withTensor = '{"__metadata__":{"ss_network_module":"networks.lora"},"lora_unet_a.alpha":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}';
    put(run, 'model.safetensors', rawSafetensors(withTensor, { data: Buffer.alloc(2) }));
    expect(await detect(run)).toBe('LoRA (kohya)');
    put(run, 'model.safetensors', rawSafetensors(withTensor.replace('{"ss_network_module":"networks.lora"}', '{}'), { data: Buffer.alloc(2) }));
    expect(await detect(run)).toBe('LoRA');
  });

  it('listed files that vanished or are not regular files → null', async () => {
    const run = await tempRun();
    fs.mkdirSync(path.join(run, 'adir.safetensors'));
    const files: ListedFile[] = [
      { path: 'gone.safetensors', size: 100 },
      { path: 'adir.safetensors', size: 4096 },
      { path: 'config.json', size: 10 },
      { path: 'adapter_config.json', size: 10 },
    ];
    expect(await detectModelType(run, files)).toBeNull();
    expect(await detectModelType(path.join(run, 'no-such-run'), files)).toBeNull();
  });

  it('a FIFO named like a model is not waited on', async () => {
    const run = await tempRun();
    execFileSync('mkfifo', [path.join(run, 'model.safetensors'), path.join(run, 'config.json'), path.join(run, 'model.keras')]);
    const files: ListedFile[] = ['model.safetensors', 'config.json', 'model.keras'].map((p) => ({ path: p, size: 0 }));
    expect(await detectModelType(run, files)).toBe('Keras model');
  });
});

describe('detectModelType: multi-GB files are never read whole', () => {
  it('a sparse 3 GiB safetensors file: only its header is read', async () => {
    const run = await tempRun();
    // One F16 tensor of 1.5 Gi elements: 3 GiB of data after the header, left as a hole.
    const { header, dataBytes } = safetensorsHeader({ 'lora_unet_big.lora_down.weight': { dtype: 'F16', shape: [1536, 1024, 1024] } }, KOHYA_SDXL_LORA_METADATA);
    expect(dataBytes).toBe(3 * GiB);
    const file = put(run, 'big.safetensors', header);
    fs.truncateSync(file, header.length + dataBytes);
    expect(fs.statSync(file).size).toBe(header.length + 3 * GiB);
    expect(await detect(run)).toBe('SDXL LoRA (kohya)');
  });

  it('a 3 GiB header length in a 3 GiB file is refused without allocating it', async () => {
    const run = await tempRun();
    const file = put(run, 'huge-header.safetensors', rawSafetensors(KOHYA_ONLY, { length: BigInt(3 * GiB) }));
    fs.truncateSync(file, 8 + 3 * GiB);
    expect(await detect(run)).toBeNull();
  });

  it('a valid header is read up to 16 MiB and ignored above', async () => {
    const run = await tempRun();
    // JSON may end in spaces, so these are valid headers of exactly the cap and one byte more.
    const header = (n: number): Buffer => rawSafetensors(KOHYA_ONLY.padEnd(n), { length: BigInt(n) }).subarray(0, 8 + n);
    put(run, 'at-cap.safetensors', header(MAX_SAFETENSORS_HEADER_BYTES));
    expect(await detect(run)).toBe('LoRA (kohya)');
    fs.rmSync(path.join(run, 'at-cap.safetensors'));
    put(run, 'above-cap.safetensors', header(MAX_SAFETENSORS_HEADER_BYTES + 1));
    expect(await detect(run)).toBeNull();
  });

  it('a JSON file over 1 MiB is not read', async () => {
    const run = await tempRun();
    put(run, 'model.pth', TORCH_SAVE_BYTES);
    put(run, 'config.json', '{"model_type": "llama"}'.padEnd(1024 * 1024));
    expect(await detect(run)).toBe('llama');
    put(run, 'config.json', '{"model_type": "llama"}'.padEnd(1024 * 1024 + 1));
    expect(await detect(run)).toBe('PyTorch checkpoint (.pth)');
  });

  it('a 3 GiB config.json is skipped for the next clue', async () => {
    const run = await tempRun();
    const file = put(run, 'config.json', '{"model_type": "llama"');
    fs.truncateSync(file, 3 * GiB);
    put(run, 'model.pth', TORCH_SAVE_BYTES);
    expect(await detect(run)).toBe('PyTorch checkpoint (.pth)');
  });

  it('a sparse 3 GiB .keras archive: only its tail, directory and config.json are read', async () => {
    const run = await tempRun();
    const { config, metadata } = kerasJson();
    // Keras writes metadata.json, config.json, then the weights; here config.json also comes
    // after 3 GiB of weights, so only the central directory's offsets can find it.
    writeSparseZip(path.join(run, 'model.keras'), { 'metadata.json': metadata, 'model.weights.h5': { hole: 3 * GiB }, 'config.json': config });
    expect(fs.statSync(path.join(run, 'model.keras')).size).toBeGreaterThan(3 * GiB);
    expect(await detect(run)).toBe('Keras Sequential');
  });
});
