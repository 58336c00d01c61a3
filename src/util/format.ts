/** Small formatting helpers for people-facing output (logs, tables). */

/** Re-exported: pure, so the policy core can use it too. */
export { formatBytes } from '../policy/format.js';

/** `90500` → `1m 30s`; `450` → `450ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Metrics as people read them, in the order given: `valid_loss 0.4786, valid_acc 0.79`; `''` for none. */
export function formatMetrics(metrics: Readonly<Record<string, number>>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k} ${Number(v.toPrecision(6))}`)
    .join(', ');
}

/** Progress as people read it: `epoch 3, step 1200, loss 0.412`. */
export function formatProgress(p: { epoch: number | null; step: number | null; loss: number | null }): string {
  const parts: string[] = [];
  if (p.epoch !== null) parts.push(`epoch ${p.epoch}`);
  if (p.step !== null) parts.push(`step ${p.step}`);
  if (p.loss !== null) parts.push(`loss ${Number(p.loss.toPrecision(4))}`);
  return parts.length > 0 ? parts.join(', ') : 'no progress known';
}

/** Where a snapshot or save was taken, for a log line: `at epoch 3, step 1200`, or `with no progress known`. */
export function atProgress(p: { epoch: number | null; step: number | null; loss: number | null }): string {
  return p.epoch === null && p.step === null && p.loss === null ? 'with no progress known' : `at ${formatProgress(p)}`;
}

/**
 * An address as a message may show it: a `user:password@` and a query or fragment (a presigned
 * URL's X-Amz-Credential and X-Amz-Signature) are hidden.
 */
export function withoutSecrets(address: string): string {
  return address.replace(/\/\/[^/]*@/, '//...@').replace(/[?#].*$/s, (m) => `${m[0]}...`);
}

/**
 * A file name (or link target) as a terminal may print it: control characters (C0, DEL, C1) as
 * `\xNN` (`\u00NN` for C1), everything else as is. Names are whatever the run's writer chose: a raw
 * newline would forge a line of a listing, an escape sequence would drive the terminal. `--json`
 * output keeps names exact; this is for human output only.
 */
export function printableName(name: string): string {
  return hasControlChars(name) ? name.replace(CONTROL_CHARS_ALL, escapeControl) : name;
}

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** True when `text` holds a control character (C0, DEL, C1): a terminal acts on it. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text);
}
const CONTROL_CHARS_ALL = /[\u0000-\u001f\u007f-\u009f]/g;

function escapeControl(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
