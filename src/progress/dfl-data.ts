/**
 * DeepFaceLab's `{model}_data.dat`, read without executing anything.
 *
 * `ModelBase.save()` writes it as `pickle.dumps(model_data)` (the interpreter's default protocol:
 * 3 on the Python 3.6/3.7 DeepFaceLab builds ship, 4 on 3.8+) through `pathex.write_bytes_safe`
 * (`.tmp`, then renamed). `model_data` is a dict whose keys come in this order: `iter` (int),
 * `options` (dict), `loss_history` (one list per iteration, appended by `train_one_iter()`:
 * `[src_loss, dst_loss]` from SAEHD, AMP and Quick96's `onTrainOneIter()`, `[loss]` from XSeg's),
 * `sample_for_preview` (numpy arrays, megabytes) and `choosed_gpu_indexes`.
 *
 * `iter` is read with the plain-opcode reader (`pickle-prefix.ts`), which stops at the first numpy
 * object. DeepFaceLab puts numpy scalars into `options` itself (`options['resolution'] =
 * np.clip(...)`, `ae_dims`, XSeg's batch size, ...), so that reading ends inside `options`, before
 * `loss_history`: the history is found by its key's pickled bytes and walked from there
 * (`dfl-loss-history.ts`). It takes about 26 bytes per iteration (22 at protocol 4) and ends
 * before the preview arrays: the first MiB of the file is read, and when the history runs past
 * it, up to 32 MiB (1.2 million iterations); never the rest.
 */
import { lastFloatList } from './dfl-loss-history.js';
import { isPlainObject } from './numbers.js';
import { readPicklePrefix } from './pickle-prefix.js';
import type { RunView } from './types.js';

/** What a `data.dat` says: its iteration, and the last entry of `loss_history` when it was read whole. */
export interface DflData {
  iter: number;
  /** The losses of the last iteration (`[src, dst]` or `[loss]`); null when not read (past the cap, damaged). */
  lastLosses: number[] | null;
}

const FIRST_PREFIX = 1024 * 1024;
/** The most of a `data.dat` ever read. */
export const MAX_DATA_PREFIX = 32 * 1024 * 1024;
/** `iter` is the first value of the dict: it lies in the first bytes. */
const HEAD_BYTES = 64 * 1024;

const KEY = Buffer.from('loss_history', 'latin1');
/** The key as pickled: BINUNICODE (protocols 2, 3) and SHORT_BINUNICODE (4, 5). */
const KEY_OPCODES = [Buffer.concat([Buffer.from([0x58, KEY.length, 0, 0, 0]), KEY]), Buffer.concat([Buffer.from([0x8c, KEY.length]), KEY])];

/**
 * The iteration and last losses of the `data.dat` at `rel`, or null when it is missing, unreadable
 * or not a DeepFaceLab model dict (no `iter` count first). Reads the first MiB, then, when the
 * history runs past it, up to `MAX_DATA_PREFIX`; never rejects.
 */
export async function readDflData(view: RunView, rel: string): Promise<DflData | null> {
  for (const size of [FIRST_PREFIX, MAX_DATA_PREFIX]) {
    const bytes = await view.readPrefix(rel, size);
    if (!bytes) return null;
    const iter = iterOf(bytes);
    if (iter === null) return null;
    const history = lastLossesOf(bytes);
    const wholeFile = bytes.length < size;
    if (history !== 'cut' || wholeFile || size >= MAX_DATA_PREFIX) return { iter, lastLosses: history === 'cut' ? null : history };
  }
  return null;
}

/** `iter` of the dict the pickle starts with, when it is a count. */
function iterOf(bytes: Buffer): number | null {
  const { value } = readPicklePrefix(bytes.subarray(0, HEAD_BYTES));
  const iter = isPlainObject(value) ? value.iter : undefined;
  return typeof iter === 'number' && Number.isSafeInteger(iter) && iter >= 0 ? iter : null;
}

/**
 * The last entry of `loss_history` in `bytes`: its numbers; null when the history is unusable
 * (empty, not lists of numbers, damaged); `cut` when `bytes` ends before the history (or its key).
 */
function lastLossesOf(bytes: Buffer): number[] | null | 'cut' {
  const key = KEY_OPCODES.map((k) => ({ at: bytes.indexOf(k), length: k.length }))
    .filter((k) => k.at >= 0)
    .sort((a, b) => a.at - b.at)[0];
  if (!key) return 'cut';
  const walk = lastFloatList(bytes, key.at + key.length);
  if (walk.end === 'cut') return 'cut';
  const last = walk.end === 'whole' ? walk.last : null;
  return last && last.length > 0 && last.every(Number.isFinite) ? last : null;
}
