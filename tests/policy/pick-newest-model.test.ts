/**
 * `save.pick: newest`: which matched files make the newest model, for the folders the trainers
 * really write (names as their save functions build them) and the cases where numbers are parts,
 * not versions.
 */
import { describe, expect, it } from 'vitest';
import { pickNewestModel } from '../../src/policy/pick-newest-model.js';

/** Files as `[path, mtime in seconds]`; the mtimes become nanosecond strings as a scan gives them. */
const files = (list: [string, number][]): { path: string; mtimeNs: string }[] =>
  list.map(([p, s]) => ({ path: p, mtimeNs: `${1_735_689_600 + s}000000000` }));

describe('pickNewestModel', () => {
  it.each<[string, [string, number][], string[], string, string[]]>([
    [
      'kohya epochs (train_util.get_epoch_ckpt_name)',
      [['lora-000001.safetensors', 10], ['lora-000002.safetensors', 20], ['lora-000003.safetensors', 30]],
      ['lora-000003.safetensors'],
      'lora-000003.safetensors',
      ['lora-000002.safetensors', 'lora-000001.safetensors'],
    ],
    [
      'kohya finished: the final NAME.safetensors (get_last_ckpt_name) is newest',
      [['lora-000001.safetensors', 10], ['lora-000002.safetensors', 20], ['lora.safetensors', 30]],
      ['lora.safetensors'],
      'lora.safetensors',
      ['lora-000002.safetensors', 'lora-000001.safetensors'],
    ],
    [
      'kohya steps (get_step_ckpt_name)',
      [['lora-step00000500.safetensors', 10], ['lora-step00001000.safetensors', 20]],
      ['lora-step00001000.safetensors'],
      'lora-step00001000.safetensors',
      ['lora-step00000500.safetensors'],
    ],
    [
      'kohya diffusers folders: a folder is one model, kept whole',
      [
        ['sd-000001/unet/diffusion_pytorch_model.safetensors', 10],
        ['sd-000001/text_encoder/model.safetensors', 10],
        ['sd-000002/unet/diffusion_pytorch_model.safetensors', 20],
        ['sd-000002/text_encoder/model.safetensors', 21],
      ],
      ['sd-000002/unet/diffusion_pytorch_model.safetensors', 'sd-000002/text_encoder/model.safetensors'],
      'sd-000002/',
      ['sd-000001/'],
    ],
    [
      'HF checkpoint-N/ folders (Trainer._save_checkpoint)',
      [
        ['checkpoint-500/model.safetensors', 10],
        ['checkpoint-500/training_args.bin', 10],
        ['checkpoint-1000/model.safetensors', 20],
        ['checkpoint-1000/training_args.bin', 20],
      ],
      ['checkpoint-1000/model.safetensors', 'checkpoint-1000/training_args.bin'],
      'checkpoint-1000/',
      ['checkpoint-500/'],
    ],
    [
      'HF sharded checkpoints keep every shard',
      [
        ['checkpoint-500/model-00001-of-00002.safetensors', 10],
        ['checkpoint-500/model-00002-of-00002.safetensors', 11],
        ['checkpoint-1000/model-00001-of-00002.safetensors', 20],
        ['checkpoint-1000/model-00002-of-00002.safetensors', 21],
      ],
      ['checkpoint-1000/model-00001-of-00002.safetensors', 'checkpoint-1000/model-00002-of-00002.safetensors'],
      'checkpoint-1000/',
      ['checkpoint-500/'],
    ],
    [
      'HF save_model beside the checkpoints: the unnumbered files are one model',
      [
        ['checkpoint-500/model.safetensors', 10],
        ['checkpoint-1000/model.safetensors', 20],
        ['model-00001-of-00002.safetensors', 30],
        ['model-00002-of-00002.safetensors', 31],
        ['training_args.bin', 32],
      ],
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'training_args.bin'],
      'model-00001-of-00002.safetensors, model-00002-of-00002.safetensors, training_args.bin',
      ['checkpoint-1000/', 'checkpoint-500/'],
    ],
    [
      'Lightning ModelCheckpoint files; last.ckpt is written after the top-k one',
      [['epoch=3-step=400.ckpt', 10], ['epoch=4-step=500.ckpt', 20], ['last.ckpt', 21]],
      ['last.ckpt'],
      'last.ckpt',
      ['epoch=4-step=500.ckpt', 'epoch=3-step=400.ckpt'],
    ],
    [
      'Lightning lightning_logs/version_N/: the newest version folder, kept whole',
      [
        ['lightning_logs/version_0/checkpoints/epoch=9-step=1000.ckpt', 10],
        ['lightning_logs/version_1/checkpoints/epoch=0-step=100.ckpt', 20],
        ['lightning_logs/version_1/checkpoints/epoch=1-step=200.ckpt', 30],
      ],
      ['lightning_logs/version_1/checkpoints/epoch=0-step=100.ckpt', 'lightning_logs/version_1/checkpoints/epoch=1-step=200.ckpt'],
      'lightning_logs/version_1/',
      ['lightning_logs/version_0/'],
    ],
    [
      'OneTrainer: the save written after the backup of the same step (GenericTrainer.__save, __backup)',
      [
        ['backup/2025-01-01_09-59-59-backup-500-1-0/lora/lora.safetensors', 9],
        ['save/2025-01-01_10-00-00-save-500-1-0.safetensors', 10],
        ['backup/2025-01-01_11-00-00-backup-1000-2-0/lora/lora.safetensors', 20],
        ['save/2025-01-01_11-00-01-save-1000-2-0.safetensors', 21],
      ],
      ['save/2025-01-01_11-00-01-save-1000-2-0.safetensors'],
      'save/2025-01-01_11-00-01-save-1000-2-0.safetensors',
      [
        'backup/2025-01-01_11-00-00-backup-1000-2-0/',
        'save/2025-01-01_10-00-00-save-500-1-0.safetensors',
        'backup/2025-01-01_09-59-59-backup-500-1-0/',
      ],
    ],
    [
      // lightning/pytorch/strategies/deepspeed.py:669 saves through DeepSpeed's engine: one
      // `zero_pp_rank_{dp}_mp_rank_{mp:02d}_optim_states.pt` per process, `mp_rank_{mp:02d}_model_states.pt`
      // per model-parallel rank (tests/tests_pytorch/strategies/test_deepspeed.py:1196, 1321).
      'a DeepSpeed checkpoint keeps every rank (the rank numbers count parts, not versions)',
      [
        ['epoch=1-step=200.ckpt/checkpoint/mp_rank_00_model_states.pt', 10],
        ['epoch=1-step=200.ckpt/checkpoint/mp_rank_01_model_states.pt', 10],
        ['epoch=1-step=200.ckpt/checkpoint/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt', 11],
        ['epoch=1-step=200.ckpt/checkpoint/bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt', 12],
        ['epoch=1-step=200.ckpt/latest', 13],
      ],
      [
        'epoch=1-step=200.ckpt/checkpoint/mp_rank_00_model_states.pt',
        'epoch=1-step=200.ckpt/checkpoint/mp_rank_01_model_states.pt',
        'epoch=1-step=200.ckpt/checkpoint/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt',
        'epoch=1-step=200.ckpt/checkpoint/bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt',
        'epoch=1-step=200.ckpt/latest',
      ],
      'epoch=1-step=200.ckpt/checkpoint/mp_rank_00_model_states.pt, epoch=1-step=200.ckpt/checkpoint/mp_rank_01_model_states.pt, epoch=1-step=200.ckpt/checkpoint/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt and 2 more',
      [],
    ],
    [
      // torch.distributed.checkpoint's FileSystemWriter names each rank's file `__{rank}_{n}.distcp`
      // (lightning/pytorch/strategies/fsdp.py:589; tests/tests_pytorch/strategies/test_fsdp.py:881).
      'a sharded FSDP checkpoint keeps every rank file',
      [
        ['epoch=2-step=300.ckpt/__0_0.distcp', 10],
        ['epoch=2-step=300.ckpt/__1_0.distcp', 11],
        ['epoch=2-step=300.ckpt/meta.pt', 12],
      ],
      ['epoch=2-step=300.ckpt/__0_0.distcp', 'epoch=2-step=300.ckpt/__1_0.distcp', 'epoch=2-step=300.ckpt/meta.pt'],
      'epoch=2-step=300.ckpt/__0_0.distcp, epoch=2-step=300.ckpt/__1_0.distcp, epoch=2-step=300.ckpt/meta.pt',
      [],
    ],
    [
      // A LoRA rank in an output name (kohya --output_name) is a setting, not a part: a second
      // training into the same folder leaves the first one's final model beside the new one.
      'kohya: a rank in the output name is not a part marker (two trainings, one folder)',
      [
        ['lora_rank8-000001.safetensors', 5],
        ['lora_rank8.safetensors', 10],
        ['lora_rank16-000001.safetensors', 20],
        ['lora_rank16.safetensors', 30],
      ],
      ['lora_rank16.safetensors'],
      'lora_rank16.safetensors',
      ['lora_rank16-000001.safetensors', 'lora_rank8.safetensors', 'lora_rank8-000001.safetensors'],
    ],
    [
      'no versions: the files are one model',
      [['unet.safetensors', 10], ['text_encoder.safetensors', 20]],
      ['unet.safetensors', 'text_encoder.safetensors'],
      'unet.safetensors, text_encoder.safetensors',
      [],
    ],
    [
      'the same mtime: the greater number wins',
      [['lora-000010.safetensors', 10], ['lora-000002.safetensors', 10], ['lora-000009.safetensors', 10]],
      ['lora-000010.safetensors'],
      'lora-000010.safetensors',
      ['lora-000009.safetensors', 'lora-000002.safetensors'],
    ],
    ['nothing matched', [], [], null as unknown as string, []],
  ])('%s', (_name, given, kept, model, leftOut) => {
    const pick = pickNewestModel(files(given));
    expect(pick.files.map((f) => f.path)).toEqual(kept);
    expect(pick.model).toBe(model);
    expect(pick.leftOut).toEqual(leftOut);
  });

  it('does not depend on the order of the files', () => {
    const given = files([['b-000002.safetensors', 10], ['a-000003.safetensors', 10], ['b-000001.safetensors', 10], ['a-000001.safetensors', 10]]);
    const picks = [given, [...given].reverse()].map((g) => pickNewestModel(g).model);
    expect(picks).toEqual(['a-000003.safetensors', 'a-000003.safetensors']);
  });

  it('names an unnumbered model of many files by three of them', () => {
    const given = files([['a.pt', 1], ['b.pt', 1], ['c.pt', 1], ['d.pt', 1], ['e.pt', 1]]);
    expect(pickNewestModel(given).model).toBe('a.pt, b.pt, c.pt and 2 more');
  });
});
