/**
 * `ckptd list` and `ckptd show`: snapshots and saves, newest first, as a table that fits the
 * terminal or as JSON for scripts.
 */
import type { RunConfig } from '../config/types.js';
import type { TrainerInfo } from '../policy/types.js';
import { storeOf } from '../store/local-store.js';
import type { RecordKind, RecordMeta } from '../store/types.js';
import { UsageError } from '../util/errors.js';
import { formatBytes, printableName } from '../util/format.js';
import { freedOf } from '../ops/delete.js';

const KINDS: RecordKind[] = ['backup', 'manual', 'pre-restore', 'save'];

/**
 * Every snapshot and save of the run, newest first, optionally of one kind; `files` left out and
 * `damaged` always set (true when `ckptd verify` marked it); snapshots also carry `incomplete`
 * (true when files were left out: see `skipped`).
 */
export async function listRecords(run: RunConfig, kind: string | undefined): Promise<ListedRecord[]> {
  return (await walkRecords(run, kind, false)).records;
}

/** A `list` item: the record without its manifest, plus `own_bytes`, what deleting it alone would free. */
export type ListedRecord = Omit<RecordMeta, 'files'> & { own_bytes: number };

/** What the run's store holds on disk: every snapshot and save, hard-linked files counted once. */
export interface StoreUsage {
  records: number;
  diskBytes: number;
  apparentBytes: number;
}

/** What the run's store holds on disk (see `StoreUsage`). */
export async function storeUsage(run: RunConfig): Promise<StoreUsage> {
  return (await listRecordsAndUsage(run, undefined)).usage;
}

/**
 * `listRecords` and `storeUsage` in one pass over the store: each record's manifest is read and
 * its stored files looked at once, one record at a time. A store of snapshots of 100,000 files
 * holds tens of MB in each manifest: holding them all at once (and reading them twice, for the
 * list and for the usage line) took `ckptd list` of four such snapshots to 650-810 MB.
 */
export async function listRecordsAndUsage(run: RunConfig, kind: string | undefined): Promise<{ records: ListedRecord[]; usage: StoreUsage }> {
  return walkRecords(run, kind, true);
}

/** The pass of `listRecordsAndUsage`; without `withUsage`, records of other kinds are not read and the usage stays zero. */
async function walkRecords(run: RunConfig, kind: string | undefined, withUsage: boolean): Promise<{ records: ListedRecord[]; usage: StoreUsage }> {
  if (kind !== undefined && !KINDS.includes(kind as RecordKind)) {
    throw new UsageError(`--kind must be one of ${KINDS.join(', ')} (got "${kind}")`);
  }
  const store = storeOf(run.store);
  const all: RecordHeader[] = [...(await store.listSnapshotHeaders()), ...(await store.listSaves()).map(({ files: _files, ...rest }) => rest)];
  all.sort((a, b) => (a.created === b.created ? (a.id < b.id ? 1 : -1) : a.created < b.created ? 1 : -1));
  const records: ListedRecord[] = [];
  // Each inode counts once in the usage.
  const inodes = new Map<string, number>();
  const usage: StoreUsage = { records: 0, diskBytes: 0, apparentBytes: 0 };
  for (const header of all) {
    const listed = kind === undefined || header.kind === kind;
    if (!listed && !withUsage) continue;
    // A record gone since it was listed (retention, a delete beside) is left out.
    const full = await store.resolve(header.id).catch(() => null);
    if (full === null || full.id !== header.id || full.kind !== header.kind) continue;
    const units = await store.storedUnits(full);
    if (withUsage) {
      for (const u of units) inodes.set(u.key, u.size);
      usage.records++;
      usage.apparentBytes += full.bytes;
    }
    if (listed) records.push({ ...header, own_bytes: freedOf([units]) });
  }
  for (const size of inodes.values()) usage.diskBytes += size;
  return { records, usage };
}

/** A snapshot or save record without its manifest. */
type RecordHeader = Omit<RecordMeta, 'files'>;

/** `3 minutes ago`, `2 hours ago`, `yesterday`-free and unambiguous. */
export function relativeTime(iso: string, now: number): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 0) return 'in the future';
  if (s < 45) return 'just now';
  const units: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
    [86400 * 30, 'month'],
    [86400 * 365, 'year'],
  ];
  let pick: [number, string] = units[0]!;
  for (const u of units) if (s >= u[0]) pick = u;
  const n = Math.max(1, Math.round(s / pick[0]));
  return `${n} ${pick[1]}${n === 1 ? '' : 's'} ago`;
}

/**
 * Renders the records as a table no wider than `width` (the notes column is cut first). SIZE is
 * the apparent size, OWN what deleting that record alone would free (files shared by hard links
 * with other snapshots are not its own). A
 * `DAMAGED` column appears when any record is marked damaged, and an `INCOMPLETE` one when any
 * snapshot left files out, so the usual table stays as it is. `metric` (the run's
 * `retention.keep_best` metric) adds a column of that metric, named in capitals, after LOSS
 * (`-` where a record lacks it); `loss` has its column already.
 */
export function renderTable(records: ListedRecord[], now: number, width: number, metric: string | null = null): string {
  if (records.length === 0) return 'no snapshots or saves yet';
  const anyDamaged = records.some((r) => r.damaged === true);
  const incomplete = (r: ListedRecord): boolean => 'incomplete' in r && r.incomplete === true;
  const anyIncomplete = records.some(incomplete);
  const shown = metric !== null && metric !== 'loss' ? metric : null;
  const header = [
    'ID', 'KIND', 'NAME', 'EPOCH/STEP', 'LOSS', ...(shown !== null ? [shown.toUpperCase()] : []), 'CREATED', 'SIZE', 'OWN', 'PIN',
    ...(anyDamaged ? ['DAMAGED'] : []),
    ...(anyIncomplete ? ['INCOMPLETE'] : []),
    'NOTES',
  ];
  const rows = records.map((r) => [
    r.id,
    r.kind,
    r.name ?? '',
    [r.epoch !== null ? `e${r.epoch}` : '', r.step !== null ? `s${r.step}` : ''].filter(Boolean).join('/') || '-',
    r.loss !== null ? String(Number(r.loss.toPrecision(4))) : '-',
    ...(shown !== null ? [r.metrics[shown] !== undefined ? String(Number(r.metrics[shown].toPrecision(4))) : '-'] : []),
    relativeTime(r.created, now),
    formatBytes(r.bytes),
    formatBytes(r.own_bytes),
    r.pinned ? 'yes' : '',
    ...(anyDamaged ? [r.damaged === true ? 'DAMAGED' : ''] : []),
    ...(anyIncomplete ? [incomplete(r) ? 'INCOMPLETE' : ''] : []),
    (r.notes ?? '').split('\n')[0] ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Fit the terminal: the name and notes columns give way first.
  const total = (): number => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  for (const col of [header.indexOf('NOTES'), header.indexOf('NAME')]) {
    const over = total() - width;
    if (over > 0) widths[col] = Math.max(header[col]!.length, widths[col]! - over);
  }
  const cell = (text: string, w: number): string => (text.length > w ? `${text.slice(0, Math.max(0, w - 1))}…` : text.padEnd(w));
  const line = (cols: string[]): string => cols.map((c, i) => cell(c, widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** One snapshot or save in full, by id or unique prefix. */
export async function showRecord(run: RunConfig, idOrPrefix: string): Promise<RecordMeta> {
  try {
    return await storeOf(run.store).resolve(idOrPrefix);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The human form of `show`. */
export function renderRecord(r: RecordMeta, now: number): string {
  const lines = [
    `id:         ${r.id}`,
    `run:        ${r.run}`,
    `kind:       ${r.kind}${r.pinned ? ' (pinned)' : ''}`,
    ...(r.damaged === true ? [`damaged:    yes: it failed verification; \`ckptd verify ${r.id}\` says how`] : []),
    ...('skipped' in r && r.skipped.length > 0
      ? [`incomplete: yes: ${r.skipped.length} file(s) left out (below); never used as the newest good backup`]
      : []),
    `name:       ${r.name ?? '-'}`,
    `created:    ${r.created} (${relativeTime(r.created, now)})`,
    `trigger:    ${r.trigger}`,
    `epoch:      ${r.epoch ?? '-'}`,
    `step:       ${r.step ?? '-'}`,
    `loss:       ${r.loss ?? '-'}`,
    ...Object.entries(r.metrics).map(([k, v]) => `${(k + ':').padEnd(11)} ${Number(v.toPrecision(6))}`),
    `model type: ${r.model_type ?? '-'}`,
    ...(r.trainer ? trainerLines(r.trainer) : []),
    `size:       ${formatBytes(r.bytes)} in ${r.files.length} file(s)`,
    `path:       ${r.path}`,
  ];
  if (r.notes) lines.push('notes:', ...r.notes.split('\n').map((l) => `  ${l}`));
  if ('skipped' in r && r.skipped.length > 0) lines.push('left out:', ...r.skipped.map((s) => `  ${printableName(s.path)}: ${s.reason}`));
  lines.push('files:');
  for (const f of r.files) {
    const link = f.type === 'symlink' ? ` -> ${printableName(f.target ?? '')}` : '';
    lines.push(`  ${f.sha256.slice(0, 12)}  ${formatBytes(f.size).padStart(9)}  ${f.mode.toString(8).padStart(4, '0')}  ${printableName(f.path)}${link}`);
  }
  return lines.join('\n');
}

/** `show`'s lines for what the trainer says of the model: who and which model, then its options on one line. */
function trainerLines(t: TrainerInfo): string[] {
  const options = Object.entries(t.options).map(([k, v]) => `${k} ${v}`);
  return [`trainer:    ${t.name}${t.model ? `, model ${t.model}` : ''}`, ...(options.length > 0 ? [`options:    ${options.join(', ')}`] : [])];
}
