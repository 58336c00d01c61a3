/**
 * A `trainer_state.json` too big to read whole, read from its two ends.
 *
 * `log_history` gains an entry at every logging step and is never trimmed, so a long run logged
 * at every step (`logging_steps=1`, ~170 bytes an entry) writes a file past the read cap after
 * some 50,000 steps. `TrainerState.save_to_json` (transformers `trainer_callback.py`) writes
 * `json.dumps(asdict(state), indent=2, sort_keys=True)`: the top-level keys that place the run,
 * `epoch` and `global_step`, sort before `log_history`, whose newest entries come last, followed
 * only by the few small keys after it (`logging_steps` ... `trial_params`). Raw newlines occur only
 * between JSON tokens, so the layout's indentation (2 spaces for top-level keys, 4 for log entries)
 * finds those places without parsing the middle.
 */
import { isPlainObject } from './numbers.js';
import { parseJson } from './parse-document.js';
import type { RunView } from './types.js';

/** Bytes read from the start: the keys before `log_history` take a few hundred. */
const HEAD_BYTES = 64 * 1024;
/** Bytes read from the end: the keys after `log_history` and more than 1,000 log entries. */
const TAIL_BYTES = 256 * 1024;

const LOG_HISTORY_OPENS = '\n  "log_history": [';
const TOP_LEVEL_ARRAY_CLOSES = '\n  ]';
const LOG_ENTRY_OPENS = '\n    {\n';

/**
 * The top-level keys before `log_history` and the log entries the last `TAIL_BYTES` hold whole,
 * as one object (`{epoch, global_step, ..., log_history: [newest entries]}`). Null unless the file
 * is laid out as `save_to_json` writes it and ends whole: a file cut short (being written) or
 * written another way reads as null, as a malformed one does.
 */
export async function readLongTrainerState(view: RunView, relPath: string): Promise<Record<string, unknown> | null> {
  const ends = await view.readEnds(relPath, HEAD_BYTES, TAIL_BYTES);
  if (!ends) return null;
  const top = keysBeforeLogHistory(ends.head.toString('utf8'));
  const history = newestLogEntries(ends.tail.toString('utf8'));
  return top && history ? { ...top, log_history: history } : null;
}

/** `{\n  "best_global_step": ..., "epoch": ..., "global_step": ..., ...` up to `log_history`, parsed. */
function keysBeforeLogHistory(head: string): Record<string, unknown> | null {
  const at = head.indexOf(LOG_HISTORY_OPENS);
  if (!head.startsWith('{') || at < 0) return null;
  const before = head.slice(0, at).replace(/,\s*$/, '');
  const parsed = parseJson(`${before}\n}`);
  return isPlainObject(parsed) ? parsed : null;
}

/**
 * The whole log entries at the end of `log_history` in `tail`, oldest first; null unless what
 * follows the list parses as the rest of a whole document (the file was not cut short).
 */
function newestLogEntries(tail: string): unknown[] | null {
  const close = tail.lastIndexOf(TOP_LEVEL_ARRAY_CLOSES);
  if (close < 0) return null;
  const after = tail.slice(close + TOP_LEVEL_ARRAY_CLOSES.length);
  const rest = after.startsWith(',') ? parseJson(`{${after.slice(1)}`) : after.trim() === '}' ? {} : null;
  if (!isPlainObject(rest)) return null;
  const first = tail.indexOf(LOG_ENTRY_OPENS);
  if (first < 0 || first >= close) return null;
  const entries = parseJson(`[${tail.slice(first, close)}\n]`);
  return Array.isArray(entries) ? entries : null;
}
