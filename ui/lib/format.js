// @ts-check
/**
 * How the panel words and formats records: sizes, numbers, times, iteration badges and the
 * automatic name of a record that has none. Pure functions of their arguments.
 */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** `1234567` → `1.23 MB`: powers of 1000, as `ckptd list` prints them. */
export function formatBytes(bytes) {
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

/** `50000` → `50,000`. */
export function formatInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** A metric value with 4 significant digits, without trailing zeros: `0.41234` → `0.4123`. */
export function formatMetric(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** `12 345` → `12.3k`, for chart axes. */
export function formatCompact(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return `${Number((n / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((n / 1e3).toPrecision(3))}k`;
  return formatMetric(n);
}

/** `just now`, `3 minutes ago`, `2 hours ago`, `5 days ago` (as `ckptd list` says it). */
export function relativeTime(iso, now) {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 0) return 'just now';
  if (s < 45) return 'just now';
  /** @type {[number, string][]} */
  const units = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
    [86400 * 30, 'month'],
    [86400 * 365, 'year'],
  ];
  let pick = units[0];
  for (const u of units) if (s >= u[0]) pick = u;
  const n = Math.max(1, Math.round(s / pick[0]));
  return `${n} ${pick[1]}${n === 1 ? '' : 's'} ago`;
}

/** The exact time for a tooltip: local date and time, then the stored UTC form. */
export function exactTime(iso) {
  const d = new Date(iso);
  return `${d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'medium' })} (${iso})`;
}

/** The people-facing word for a kind. */
export function kindLabel(kind) {
  return { backup: 'Backup', manual: 'Manual', 'pre-restore': 'Pre-restore', save: 'Save' }[kind] ?? kind;
}

/** True for a record of a DeepFaceLab model (its `trainer`, from the `dfl` progress preset). */
function isDeepFaceLab(r) {
  return r.trainer?.name === 'DeepFaceLab';
}

/** What the trainer calls a step: DeepFaceLab counts iterations (`[#050000]` in its console). */
function stepWord(r) {
  return isDeepFaceLab(r) ? 'Iter' : 'Step';
}

/** `Epoch 12 · Step 50,000` (`Iter 50,000` for DeepFaceLab), or null when neither is known. */
export function iterationBadge(r) {
  const parts = [];
  if (r.epoch !== null && r.epoch !== undefined) parts.push(`Epoch ${formatMetric(r.epoch)}`);
  if (r.step !== null && r.step !== undefined) parts.push(`${stepWord(r)} ${formatInt(r.step)}`);
  return parts.length > 0 ? parts.join(' · ') : null;
}

/**
 * The record's name, or an automatic one from its kind and progress: `Backup · epoch 12`,
 * `Save · step 5,000` (`Backup · iter 50,000` for DeepFaceLab), `Before restore · 14:03`.
 */
export function displayName(r) {
  if (r.name) return r.name;
  const what = { backup: 'Backup', manual: 'Snapshot', 'pre-restore': 'Before restore', save: 'Save' }[r.kind] ?? r.kind;
  if (r.epoch !== null && r.epoch !== undefined) return `${what} · epoch ${formatMetric(r.epoch)}`;
  if (r.step !== null && r.step !== undefined) return `${what} · ${stepWord(r).toLowerCase()} ${formatInt(r.step)}`;
  return `${what} · ${new Date(r.created).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`;
}

/** The first line of the notes, and the rest ('' when there is none). */
export function firstLine(notes) {
  const text = notes ?? '';
  const nl = text.indexOf('\n');
  return nl < 0 ? { first: text, rest: '' } : { first: text.slice(0, nl), rest: text.slice(nl + 1).replace(/\s+$/, '') };
}

/** Every metric of a record that the chart can plot: `loss` first, then the others. */
export function metricsOf(r) {
  /** @type {Record<string, number>} */
  const out = {};
  if (typeof r.loss === 'number' && Number.isFinite(r.loss)) out.loss = r.loss;
  for (const [k, v] of Object.entries(r.metrics ?? {})) if (typeof v === 'number' && Number.isFinite(v) && k !== 'loss') out[k] = v;
  return out;
}

/**
 * The metrics a card shows: those of `metricsOf`, but a DeepFaceLab record shows its two losses,
 * `src_loss` and `dst_loss`, as its console does, without `loss` (the src loss again).
 */
export function cardMetrics(r) {
  const all = metricsOf(r);
  if (isDeepFaceLab(r) && 'src_loss' in all) delete all.loss;
  return all;
}

/**
 * What the trainer says of the model, as `ckptd show` words it: `DeepFaceLab, model new_SAEHD:
 * resolution 224, face_type wf, archi liae-ud, ...`; null when the record has no `trainer`.
 */
export function trainerText(r) {
  const t = r.trainer;
  if (!t) return null;
  const options = Object.entries(t.options ?? {}).map(([k, v]) => `${k} ${v}`);
  return `${t.name}${t.model ? `, model ${t.model}` : ''}${options.length > 0 ? `: ${options.join(', ')}` : ''}`;
}
