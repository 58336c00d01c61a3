/**
 * The store's `state.json`: the policy anchors and counters (`RunState`) that must survive a
 * daemon restart. Written atomically; a missing or damaged file reads as the empty state.
 */
import fsp from 'node:fs/promises';
import { EMPTY_POLICY_STATE, type PolicyState, type RunState } from '../policy/types.js';
import { writeFileAtomic } from './durable.js';
import { stateFile } from './layout.js';
import { assertStoreLockHeld } from './lock-signal.js';

/** Re-exported for other modules: temp + fsync + rename + fsync of the folder. */
export { writeFileAtomic } from './durable.js';

/**
 * The persisted run state of `store`. A missing `state.json` gives the empty state. A damaged one
 * (bad JSON, wrong shape) also gives the empty state, and `onProblem` is called with a message
 * naming the file, so the caller can log that anchors and counters were reset. Fields missing from
 * an otherwise valid file take their empty values.
 */
export async function readRunState(store: string, onProblem?: (message: string) => void): Promise<RunState> {
  const file = stateFile(store);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onProblem?.(`cannot read ${file}: ${(err as Error).message}; starting from an empty state`);
    return emptyRunState();
  }
  try {
    const raw = JSON.parse(text) as unknown;
    if (!isObject(raw)) throw new Error('not an object');
    return { backup: policyState(raw.backup, 'backup'), save: policyState(raw.save, 'save') };
  } catch (err) {
    onProblem?.(`${file} is damaged (${(err as Error).message}); policy anchors and counters start again from empty`);
    return emptyRunState();
  }
}

/**
 * Writes `state` to `<store>/state.json` atomically (temp, fsync, rename, fsync of the folder);
 * `LockLostError` once this process lost the store's lock.
 */
export async function writeRunState(store: string, state: RunState): Promise<void> {
  await writeFileAtomic(stateFile(store), `${JSON.stringify(state, null, 2)}\n`, { beforeRename: () => assertStoreLockHeld(store) });
}

function emptyRunState(): RunState {
  return { backup: { ...EMPTY_POLICY_STATE }, save: { ...EMPTY_POLICY_STATE } };
}

function policyState(v: unknown, key: string): PolicyState {
  if (v === undefined) return { ...EMPTY_POLICY_STATE };
  if (!isObject(v)) throw new Error(`${key} is not an object`);
  const num = (k: keyof PolicyState): number | null => {
    const x = v[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${key}.${k} is not a number`);
    return x;
  };
  const digest = v.lastDigest;
  if (digest !== undefined && digest !== null && typeof digest !== 'string') throw new Error(`${key}.lastDigest is not a string`);
  return {
    lastEpoch: num('lastEpoch'),
    lastStep: num('lastStep'),
    anchorAt: num('anchorAt'),
    changes: num('changes') ?? 0,
    lastDigest: digest ?? null,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
