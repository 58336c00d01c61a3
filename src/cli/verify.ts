/**
 * `ckptd verify [ID...]`: re-hash stored files against their manifests, mark what fails as damaged
 * (and clear the mark of what verifies clean again), and report one line per snapshot or save, or
 * one JSON document. Safe beside a running daemon: it writes nothing but the damaged markers.
 */
import { storeOf, type StoreRef } from '../store/local-store.js';
import type { ChangedFile, MarkerChange, Store, StoreProblem, StoreRecord, VerifyResult } from '../store/store.js';
import type { RecordKind } from '../store/types.js';
import { UsageError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';

/** What `runVerify` verifies and where it may write progress. */
export interface VerifyCommandOptions {
  /** The store, or the folder of a local one. */
  store: StoreRef;
  /** Ids or unique prefixes; empty: every snapshot and save, and the store is checked for broken folders. */
  ids: string[];
  /** Return the report as an object (for `printJson`) instead of text. */
  json: boolean;
  /** Progress (bytes hashed / total) goes to `stderr` only when true. */
  isTTY: boolean;
  stderr: NodeJS.WritableStream;
  /** Clock for the markers' times (default `Date.now`). */
  now?: () => number;
  /**
   * How one record is checked; default `store.verify` (every byte re-hashed). `verify --remote`
   * without `--read-data` passes the remote's `verifyExists` (each object there with its size).
   */
  check?: (record: StoreRecord, onBytes: (n: number) => void) => Promise<VerifyResult>;
}

/** One verified snapshot or save in the `--json` report. */
export interface VerifyReportItem {
  id: string;
  kind: RecordKind;
  /**
   * `error`: it could not be verified (e.g. permission denied); `error` says why. `deleted`: it was
   * deleted while verify ran (the daemon's retention, `ckptd delete`): no verdict, not a failure.
   */
  status: 'ok' | 'damaged' | 'error' | 'deleted';
  missing: string[];
  changed: ChangedFile[];
  extra: string[];
  /** Entries in its manifest. */
  files: number;
  bytes_hashed: number;
  /** True when it carried a damaged mark before and verified clean now (the mark was removed). */
  cleared: boolean;
  error: string | null;
}

/** The `--json` document of `ckptd verify`. */
export interface VerifyReport {
  /** True when the exit code is 0: nothing damaged, broken or unverifiable. */
  ok: boolean;
  checked: number;
  damaged: number;
  errors: number;
  /** Records deleted while verify ran (listed with status `deleted`; they do not fail the command). */
  deleted: number;
  bytes_hashed: number;
  records: VerifyReportItem[];
  /** Folders and records that are not valid snapshots or saves (looked for only when no id is given). */
  broken: StoreProblem[];
}

/** How many names of one kind a text line lists before "and N more". */
const LIST_MAX = 5;

/**
 * Verifies the snapshots and saves `ids` names (unique prefixes accepted; an unknown or ambiguous
 * one throws `UsageError` before anything is verified), or all of them, newest first, when `ids`
 * is empty. Each failure marks the record damaged (`Store.markVerified`); each clean result clears the mark. Returns
 * exit code 1 when anything is damaged, could not be verified, or (all verified) a broken folder
 * exists; 0 otherwise. `output` is the text (no trailing newline) or, with `json`, the report.
 * A marker that cannot be written is warned about on `stderr`; the verdict stands.
 */
export async function runVerify(opts: VerifyCommandOptions): Promise<{ exitCode: number; output: string | VerifyReport }> {
  const clock = opts.now ?? Date.now;
  const store = storeOf(opts.store);
  const all = opts.ids.length === 0;
  // All of them: listed as headers, each read in full only when its turn comes (a store of
  // 100,000-file snapshots holds tens of MB in each manifest).
  const records: (StoreRecord | Omit<StoreRecord, 'files'>)[] = all ? await everything(store) : await named(store, opts.ids);
  const broken = all ? await store.findBroken() : [];

  const progress = new Progress(opts, records.reduce((n, r) => n + ('files' in r ? r.files.reduce((m, f) => m + (f.type === 'symlink' ? 0 : f.size), 0) : r.bytes), 0));
  const items: VerifyReportItem[] = [];
  for (const [i, listed] of records.entries()) {
    progress.start(`${i + 1}/${records.length} ${listed.id}`);
    let r: StoreRecord | null = 'files' in listed ? listed : null;
    let result: VerifyResult;
    try {
      r ??= await store.resolve(listed.id);
      result = await (opts.check ? opts.check(r, progress.onBytes) : store.verify(r, progress.onBytes));
    } catch (err) {
      const gone = await deletedMeanwhile(store, listed.id);
      items.push({ ...blank(r ?? listed), status: gone ? 'deleted' : 'error', error: gone ? null : (err as Error).message });
      continue;
    }
    let change: MarkerChange = 'unchanged';
    try {
      change = await store.markVerified(result, clock());
    } catch (err) {
      progress.clear();
      opts.stderr.write(`warning: could not ${result.ok ? 'clear' : 'write'} the damaged mark of ${r.id}: ${(err as Error).message}\n`);
    }
    items.push({
      id: r.id,
      kind: r.kind,
      // Its files went with its record: retention deleted it mid-check, nothing is damaged.
      status: result.ok ? 'ok' : change === 'record-gone' ? 'deleted' : 'damaged',
      missing: result.missing,
      changed: result.changed,
      extra: result.extra,
      files: result.files,
      bytes_hashed: result.bytesHashed,
      cleared: change === 'cleared',
      error: null,
    });
  }
  progress.clear();

  const report: VerifyReport = {
    ok: items.every((i) => i.status === 'ok' || i.status === 'deleted') && broken.length === 0,
    checked: items.length,
    damaged: items.filter((i) => i.status === 'damaged').length,
    errors: items.filter((i) => i.status === 'error').length,
    deleted: items.filter((i) => i.status === 'deleted').length,
    bytes_hashed: items.reduce((n, i) => n + i.bytes_hashed, 0),
    records: items,
    broken,
  };
  return { exitCode: report.ok ? 0 : 1, output: opts.json ? report : renderReport(report, all) };
}

/**
 * The text form: one line per record (`ID ok`, `ID DAMAGED: 2 missing (a, b), 1 changed (m: sha256
 * differs)`, `ID ERROR: ...`), one per broken folder, then a summary line and, when something is
 * damaged, what that means.
 */
export function renderReport(report: VerifyReport, all: boolean): string {
  if (report.checked === 0 && report.broken.length === 0) return 'nothing to verify: the store holds no snapshots or saves';
  const lines: string[] = [];
  for (const r of report.records) {
    const who = r.kind === 'save' ? `${r.id} (save)` : r.id;
    if (r.status === 'ok') lines.push(`${who} ok${r.cleared ? ' (its damaged mark was removed)' : ''}`);
    else if (r.status === 'error') lines.push(`${who} ERROR: ${r.error ?? 'unknown error'}`);
    else if (r.status === 'deleted') lines.push(`${who} deleted while verify ran (e.g. by retention); not checked`);
    else {
      const parts: string[] = [];
      if (r.missing.length > 0) parts.push(`${r.missing.length} missing (${names(r.missing)})`);
      if (r.changed.length > 0) parts.push(`${r.changed.length} changed (${names(r.changed.map((c) => `${c.path}: ${c.reason}`))})`);
      if (r.extra.length > 0) parts.push(`${r.extra.length} extra (${names(r.extra)})`);
      lines.push(`${who} DAMAGED: ${parts.join(', ')}`);
    }
  }
  for (const b of report.broken) lines.push(`${b.path} BROKEN: ${b.problem}`);

  const counts = [`${report.checked - report.damaged - report.errors - report.deleted} ok`];
  if (report.damaged > 0) counts.push(`${report.damaged} damaged`);
  if (report.deleted > 0) counts.push(`${report.deleted} deleted meanwhile`);
  if (report.errors > 0) counts.push(`${report.errors} could not be verified`);
  if (report.broken.length > 0) counts.push(`${report.broken.length} broken (not a valid snapshot or save record)`);
  lines.push(`${report.checked} verified, ${formatBytes(report.bytes_hashed)} hashed: ${counts.join(', ')}`);
  if (report.damaged > 0) {
    lines.push('damaged ones are marked (`ckptd list` shows them); new snapshots never hard-link from them and rolling retention does not count them');
    if (!all) lines.push('other snapshots may share its files through hard links: run `ckptd verify` with no id to check them all');
  }
  return lines.join('\n');
}

function names(list: string[]): string {
  const shown = list.slice(0, LIST_MAX).join(', ');
  return list.length > LIST_MAX ? `${shown}, and ${list.length - LIST_MAX} more` : shown;
}

function blank(r: StoreRecord | Omit<StoreRecord, 'files'>): VerifyReportItem {
  return { id: r.id, kind: r.kind, status: 'ok', missing: [], changed: [], extra: [], files: 'files' in r ? r.files.length : 0, bytes_hashed: 0, cleared: false, error: null };
}

async function everything(store: Store): Promise<(StoreRecord | Omit<StoreRecord, 'files'>)[]> {
  const all = [...(await store.listSnapshotHeaders()), ...(await store.listSaves())];
  // Ids sort by creation time across snapshots and saves.
  return all.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * True when record `id` is no longer in the store at all: neither listed nor a broken folder or
 * record. A listing that fails is not proof of anything: false.
 */
async function deletedMeanwhile(store: Store, id: string): Promise<boolean> {
  try {
    const listed = [...(await store.listSnapshotHeaders()), ...(await store.listSaves())];
    if (listed.some((r) => r.id === id)) return false;
    return !(await store.findBroken()).some((b) => b.path.includes(id));
  } catch {
    return false;
  }
}

async function named(store: Store, ids: string[]): Promise<StoreRecord[]> {
  const out = new Map<string, StoreRecord>();
  for (const id of ids) {
    try {
      const r = await store.resolve(id);
      if (!out.has(r.id)) out.set(r.id, r);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return [...out.values()];
}

/** One overwritten stderr line, at most ten times a second, only on a terminal. */
class Progress {
  private done = 0;
  private label = '';
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly opts: { isTTY: boolean; stderr: NodeJS.WritableStream },
    private readonly total: number,
  ) {}

  start(label: string): void {
    this.label = label;
    this.draw(true);
  }

  readonly onBytes = (n: number): void => {
    this.done += n;
    this.draw(false);
  };

  clear(): void {
    if (this.drawn) this.opts.stderr.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(force: boolean): void {
    if (!this.opts.isTTY) return;
    const t = Date.now();
    if (!force && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    const pct = this.total > 0 ? Math.min(100, Math.floor((this.done / this.total) * 100)) : 100;
    this.opts.stderr.write(`\rverifying ${this.label}: ${formatBytes(this.done)} / ${formatBytes(this.total)} (${pct}%)\x1b[K`);
    this.drawn = true;
  }
}
