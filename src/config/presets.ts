/**
 * Starter settings per trainer for `ckptd init --preset NAME`: what each trainer writes, which
 * progress source reads it, and a schedule that suits it.
 */
import path from 'node:path';
import type { SavePickSetting } from '../policy/save-pick.js';

export const INIT_PRESETS = ['generic', 'hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl'] as const;
export type InitPreset = (typeof INIT_PRESETS)[number];

export interface PresetSettings {
  /** One line for the top of the file. */
  about: string;
  progress: string;
  include: string[];
  exclude: string[];
  backupEvery: string;
  saveEvery: string;
  saveFiles: string[];
  /** `save.pick`: `newest` where the trainer keeps every version it writes. */
  savePick: SavePickSetting;
  /** The run's `settle`; default 2s. */
  settle?: string;
}

/**
 * What DeepFaceLab writes into its model folder besides the model (`models/ModelBase.py`): the
 * rotating copies `create_backup()` keeps in `{model}_autobackups/01..24/`, the preview images the
 * `PreviewHistoryWriter` adds to `{model}_history/` every few iterations, and, on Colab, the
 * `{model}_preview_*.jpg` it rewrites every 100. Left out of every run whose progress is `dfl`
 * (`normalize-run.ts`) and written out in the `init --preset dfl` config.
 */
export const DFL_EXCLUDES: readonly string[] = ['**/*_autobackups/**', '**/*_history/**', '**/*_preview_*.jpg'];

export const PRESET_SETTINGS: Readonly<Record<InitPreset, PresetSettings>> = {
  generic: {
    about: 'any trainer: a backup of every file in the folder every 30 minutes when something changed',
    progress: 'auto',
    include: ['**/*'],
    exclude: [],
    backupEvery: '30 minutes',
    saveEvery: 'never',
    saveFiles: ['**/*.safetensors', '**/*.ckpt', '**/*.pt', '**/*.bin'],
    savePick: 'auto',
  },
  hf: {
    about: 'Hugging Face Trainer: output_dir with checkpoint-N/ folders (trainer_state.json gives epoch/step/loss)',
    progress: 'hf',
    include: ['**/*'],
    // TensorBoard's files under logging_dir (<output_dir>/runs/<date>_<host>), wherever output_dir
    // lies in the run: a top-level `runs/**` would drop the whole run when it is a folder above
    // output_dirs kept in runs/.
    exclude: ['**/events.out.tfevents.*'],
    backupEvery: '1 epochs',
    saveEvery: 'never',
    // The weights with what from_pretrained needs to load them: config.json (adapter_config.json
    // for PEFT) and the shards' index.
    saveFiles: ['**/*.safetensors', '**/*.bin', '**/config.json', '**/adapter_config.json', '**/*.index.json'],
    savePick: 'newest',
  },
  lightning: {
    about: 'PyTorch Lightning: default_root_dir (ModelCheckpoint names and last.ckpt in the newest lightning_logs/version_N)',
    progress: 'lightning',
    // DeepSpeed and sharded FSDP write each checkpoint as a folder named like the file
    // (`epoch=3-step=400.ckpt/checkpoint/...`, `.../__0_0.distcp`): its files are the checkpoint.
    include: ['**/*.ckpt', '**/*.ckpt/**', '**/hparams.yaml'],
    exclude: [],
    backupEvery: '1 epochs',
    saveEvery: 'never',
    saveFiles: ['**/*.ckpt', '**/*.ckpt/**'],
    savePick: 'newest',
  },
  keras: {
    about: 'Keras: the BackupAndRestore backup_dir (Keras 3 training_metadata.json, tf.keras 2 chief/ckpt-N)',
    progress: 'keras',
    include: ['**/*'],
    exclude: [],
    backupEvery: '1 epochs',
    saveEvery: 'never',
    saveFiles: ['**/*.keras', '**/*.weights.h5'],
    savePick: 'auto',
  },
  onetrainer: {
    about: 'OneTrainer: the workspace folder with backup/ and save/ (names carry step and epoch)',
    progress: 'onetrainer',
    include: ['**/*'],
    // <workspace_dir>/samples and /tensorboard at any depth: the run may be a folder above the
    // workspace (`workspace/` holding the default `workspace/run`). No backup or save of OneTrainer's
    // holds a folder of either name (its config copy has a samples.json file).
    exclude: ['**/tensorboard/**', '**/samples/**'],
    backupEvery: '30 minutes',
    saveEvery: 'never',
    // OneTrainer's exports (save/: a file, or a diffusers folder with its configs and tokenizers),
    // never backup/, whose weights are in OneTrainer's internal format (ModelFormat.INTERNAL).
    saveFiles: ['**/save/**/*.{safetensors,ckpt,pt,json,txt,model}'],
    savePick: 'newest',
  },
  kohya: {
    about: 'kohya sd-scripts: output_dir with NAME-000005.safetensors and NAME-000005-state/ folders',
    progress: 'kohya',
    include: ['**/*'],
    // sd-scripts' --logging_dir is often logs/; the kohya_ss GUI's project folder has log/. Samples
    // go to <output_dir>/sample, which is model/sample when the run is the GUI's project folder: at
    // any depth. No state folder or model of sd-scripts holds a folder of these names.
    exclude: ['**/logs/**', '**/log/**', '**/sample/**'],
    backupEvery: '1 epochs',
    saveEvery: 'never',
    // Models of --save_model_as safetensors, ckpt or pt, in output_dir or a GUI project's model/;
    // the state folders' own model.safetensors lie deeper and are not a model export.
    saveFiles: ['*.{safetensors,ckpt,pt}', 'model/*.{safetensors,ckpt,pt}'],
    savePick: 'newest',
  },
  dfl: {
    about:
      'DeepFaceLab: the workspace/model folder, saved every 25 minutes ({name}_{Class}_data.dat gives the iteration and the src/dst losses)',
    progress: 'dfl',
    include: ['**/*'],
    exclude: [...DFL_EXCLUDES],
    // A save writes the summary, then each weights file (hundreds of MB to GB, pickled in memory
    // first, then written as .tmp and renamed), then data.dat: the pauses between those writes
    // must not count as settled.
    settle: '60s',
    backupEvery: '10000 steps',
    saveEvery: 'never',
    saveFiles: ['*.npy', '*_data.dat', '*_summary.txt'],
    // One version per model, under names without numbers: every matched file is the model.
    savePick: 'auto',
  },
};

const PICK_COMMENT: Readonly<Record<SavePickSetting, string>> = {
  newest: 'a save holds the newest model only (this trainer keeps every version) | all: every match',
  all: 'a save holds every file that matches | newest: the newest model only',
  auto: 'newest model only once progress finds hf, kohya, lightning or onetrainer; else all (| newest | all)',
};

/**
 * The commented YAML `init` writes. `runPath` is as it should appear (relative to the config's
 * folder where possible); its comment says "relative to this file" only when it is.
 */
export function renderStarterConfig(preset: InitPreset, name: string, runPath: string): string {
  const p = PRESET_SETTINGS[preset];
  const list = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  // A key and its value, then its comment in the column the fixed lines use (`# ` at column 30).
  const line = (keyValue: string, comment: string): string => `${keyValue}${' '.repeat(Math.max(1, 29 - keyValue.length))}# ${comment}`;
  return `# ckptd config written by \`ckptd init --preset ${preset}\`
# For ${p.about}.
# Every key and its default: README.md ("Config"). Check edits with: ckptd check-config THIS_FILE
# Edits apply to a running daemon within seconds (or send it SIGHUP).
log:
  level: info                # error | warn | info | debug
  format: text               # text | json

runs:
${line(`  - name: ${name}`, '[a-z0-9._-]+, unique in this file')}
${line(`    path: ${yamlScalar(runPath)}`, `the folder the trainer writes${path.isAbsolute(runPath) ? '' : ' (relative to this file)'}`)}
    # store: null            # default: <path's parent>/.ckptd/<name>; never inside the run
    include: ${list(p.include)}
    exclude: ${list(p.exclude)}
${line(`    settle: ${p.settle ?? '2s'}`, 'quiet time before a written state counts as finished')}
${line(`    progress: ${p.progress}`, 'auto | none | hf | lightning | keras | onetrainer | kohya | dfl | {file, epoch, step, loss} | {filename: REGEX}')}
    backup:
${line(`      every: ${p.backupEvery}`, 'N epochs | N steps | N changes | N seconds/minutes/hours | always | never')}
      cron: null             # an extra cron schedule, e.g. "0 */2 * * *"
      rolling: true          # delete the oldest policy backups beyond keep
      keep: 3
      before_save: true      # a save is preceded by a backup of the same state
    save:
${line(`      every: ${p.saveEvery}`, 'same grammar as backup.every; saves export the model files below')}
      files: ${list(p.saveFiles)}
      prefix: ""             # prepended to every save's file name
${line(`      pick: ${p.savePick}`, PICK_COMMENT[p.savePick])}
      # to: null             # default: <store>/saves
    retention:
      keep_best: null        # e.g. {metric: loss, mode: min, count: 1}: never rolled away
      min_free: 1GiB         # never start a snapshot that would leave less free disk
`;
}

/** A plain YAML scalar where that reads unambiguously, a quoted one otherwise. */
function yamlScalar(value: string): string {
  return /^[\w./~-]+$/.test(value) && !/^[~-]$/.test(value) ? value : JSON.stringify(value);
}
