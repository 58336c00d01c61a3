/**
 * The `{file, epoch, step, loss, metrics}` source: values at key paths inside one JSON or YAML file
 * that the training script writes, e.g. `{file: trainer_state.json, epoch: epoch, step: global_step,
 * loss: "log_history[-1].loss"}`, or skorch's `history.json` (`History.to_file`: a list of one
 * dict per epoch) with `{file: history.json, epoch: "$[-1].epoch", loss: "$[-1].train_loss",
 * metrics: {valid_loss: "$[-1].valid_loss"}}`.
 */
import { getPath, parseKeyPath, type KeySegment } from '../policy/key-path.js';
import { toCount, toNumber } from './numbers.js';
import { readDocument } from './read-document.js';
import type { Reading, RunView, Source } from './types.js';

/**
 * Where the values are: a file relative to the run folder and a key path per value (null = none);
 * `metrics` maps each extra metric's name to its key path.
 */
export interface FileSourceSpec {
  file: string;
  epoch: string | null;
  step: string | null;
  loss: string | null;
  metrics: Readonly<Record<string, string>>;
}

/**
 * A source reading `spec.file` (read by path, so it need not be in the listing) and the values at
 * its key paths; numbers and numeric strings are accepted, negative epochs and steps are not. A
 * metric whose path holds no number is left out of `metrics`. `atMs` is the file's mtime. The
 * source yields null when the file is missing, too big (`MAX_READ_BYTES`; YAML past `MAX_YAML_CHARS`
 * or `MAX_YAML_DEPTH`) or malformed, or none of the paths holds a number. A malformed key path makes that value null (config validation reports it;
 * `parseKeyPath` gives the message).
 */
export function fileSource(spec: FileSourceSpec): Source {
  const paths = { epoch: compile(spec.epoch), step: compile(spec.step), loss: compile(spec.loss) };
  const metricPaths = Object.entries(spec.metrics).map(([name, keyPath]) => [name, compile(keyPath)] as const);
  const rel = spec.file.replace(/^\.\//, '');
  return async (view: RunView): Promise<Reading | null> => {
    const doc = await readDocument(view, rel);
    if (doc === null) return null;
    const at = (p: KeySegment[] | null): unknown => (p ? getPath(doc, p) : undefined);
    const epoch = toCount(at(paths.epoch));
    const step = toCount(at(paths.step));
    const loss = toNumber(at(paths.loss));
    const metrics: Record<string, number> = {};
    for (const [name, p] of metricPaths) {
      const value = toNumber(at(p));
      if (value !== null) metrics[name] = value;
    }
    if (epoch === null && step === null && loss === null && Object.keys(metrics).length === 0) return null;
    const atMs = (await view.mtimeMs(rel)) ?? view.files.find((f) => f.path === rel)?.mtimeMs ?? 0;
    return { epoch, step, loss, metrics, atMs };
  };
}

function compile(keyPath: string | null): KeySegment[] | null {
  if (keyPath === null) return null;
  try {
    return parseKeyPath(keyPath);
  } catch {
    return null;
  }
}
