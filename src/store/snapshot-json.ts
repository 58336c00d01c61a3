/**
 * `snapshot.json` written and read piece by piece. Its `files` array is nearly all of it (29 MB of
 * text for 100,000 files): written whole it was one 29 MB string and a 29 MB buffer, read whole
 * a 29 MB buffer and a 29 MB string, on top of the manifest's objects.
 *
 * - `writeSnapshotJson` writes exactly the text of `JSON.stringify(meta, null, 2)` and a newline,
 *   the file entries turned into text a batch at a time.
 * - `readSnapshotJson` gives exactly what `JSON.parse` would, reading 1 MiB at a time: a scan of the
 *   bytes (`files-scan.ts`) finds the top-level `files` array, whose entries are parsed a batch at a
 *   time and checked by the caller's rule as they come (kept, or only checked, for a reader that
 *   needs no files);
 *   the rest of the document is parsed with `files: []` in its place. A document whose shape the
 *   scan does not expect (no top-level `files` array, two of them) is read and parsed whole instead,
 *   so every document reads as `JSON.parse` reads it.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeAllBytes } from './durable.js';
import { withPath } from './errors.js';
import { FilesScan, type FilesRule } from './files-scan.js';
import type { SnapshotMeta } from './types.js';

export type { FilesRule } from './files-scan.js';

/** Bytes read at a time. */
const CHUNK = 1 << 20;
/**
 * Text written per write, and entry bytes parsed per `JSON.parse`: under V8's large-object size
 * (128 KiB), so each batch's text is a young string that dies young. Batches of 1 MiB were 1 MiB
 * strings allocated straight in the old generation: 60 MB of garbage there per 29 MB manifest,
 * which let the heap grow by as much before the next full collection.
 */
const BATCH = 64 << 10;

/** How `JSON.stringify(meta, null, 2)` writes an empty top-level `files` array. */
const EMPTY_FILES = '\n  "files": []';

/** File entries turned into text by one `JSON.stringify` (a call per entry cost ~3x the time). */
const ENTRIES_PER_PIECE = 100;

/**
 * The text of `JSON.stringify(meta, null, 2)` followed by a newline, in pieces (`ENTRIES_PER_PIECE`
 * file entries each, plus the parts before and after the entries).
 */
export function* snapshotJsonPieces(meta: SnapshotMeta): Generator<string> {
  const outer = JSON.stringify({ ...meta, files: [] }, null, 2);
  // Unique: a string value cannot hold a raw newline, so this can only be the top-level key.
  const at = outer.indexOf(EMPTY_FILES);
  if (at < 0 || meta.files.length === 0) {
    yield `${outer}\n`;
    return;
  }
  yield `${outer.slice(0, at)}\n  "files": [`;
  for (let i = 0; i < meta.files.length; i += ENTRIES_PER_PIECE) {
    // `[\n  {...},\n  {...}\n]` indented one level more is `[\n    {...},\n    {...}\n  ]`: its
    // text between the brackets is the entries as the whole document writes them (a string value
    // holds no raw newline, so only the layout's newlines are indented).
    const text = JSON.stringify(meta.files.slice(i, i + ENTRIES_PER_PIECE), null, 2).replaceAll('\n', '\n  ');
    yield `${i === 0 ? '' : ','}${text.slice(1, -'\n  ]'.length)}`;
  }
  yield `\n  ]${outer.slice(at + EMPTY_FILES.length)}\n`;
}

/**
 * Writes `meta` as a NEW file (fails if it exists) with `mode`, fsynced: the text of
 * `JSON.stringify(meta, null, 2)` and a newline, never held whole in memory.
 */
export async function writeSnapshotJson(file: string, meta: SnapshotMeta, mode: number): Promise<void> {
  try {
    const fh = await fsp.open(file, 'wx', mode);
    try {
      let batch = '';
      for (const piece of snapshotJsonPieces(meta)) {
        batch += piece;
        if (batch.length >= BATCH) {
          await writeAllBytes(fh, Buffer.from(batch, 'utf8'));
          batch = '';
        }
      }
      if (batch !== '') await writeAllBytes(fh, Buffer.from(batch, 'utf8'));
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw withPath(err, 'writing', file);
  }
}

/** What `readSnapshotJson` read: the document, the first problem `FilesRule.check` found. */
export type ReadJson = { value: unknown; filesProblem: string | null } | { problem: string };

/**
 * The document in `file` as `JSON.parse` gives it (see the file comment), its `files` entries
 * kept or only checked by `rule`. A missing or unreadable file, or text that is not JSON, is a
 * `problem` (named as the whole-file readers name it).
 */
export async function readSnapshotJson(file: string, rule: FilesRule): Promise<ReadJson> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    return { problem: readProblem(file, err) };
  }
  try {
    const scanned = await scanOpened(fh, file, rule);
    return scanned.read ?? readWhole(file, rule);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * `readSnapshotJson` of an open file: `read` is null when the document's shape is not the one the
 * scan expects (then it must be read whole); `scan` has where the `files` entries are.
 */
async function scanOpened(fh: fsp.FileHandle, file: string, rule: FilesRule): Promise<{ read: ReadJson | null; scan: FilesScan }> {
  const scan = new FilesScan(rule, BATCH);
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      scan.feed(buf.subarray(0, bytesRead));
      if (scan.failed) break;
    }
  } catch (err) {
    return { read: { problem: notJson(file, err) }, scan };
  }
  if (scan.failed || !scan.done) return { read: null, scan };
  try {
    const value = JSON.parse(scan.outerText()) as unknown;
    // Only an object has the `files` the scan found: put the entries in their place.
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) (value as { files: unknown[] }).files = scan.files;
    return { read: { value, filesProblem: scan.filesProblem }, scan };
  } catch (err) {
    return { read: { problem: notJson(file, err) }, scan };
  }
}

/**
 * The document in `file` changed by `edit`, as `JSON.stringify(changed, null, 2)` and a newline
 * write it, handed to `use` in pieces while `file` is open: `edit` gets the document with
 * `files: []` (it may throw: nothing is written), and the `files` array's entries are copied as
 * bytes from `file`, never parsed or held whole (a manifest of 100,000 files is 29 MB of text).
 * The result is exactly that text when `file` was written by `writeSnapshotJson`. A document the
 * scan does not expect is read, changed and written whole. Throws when `file` is missing or not a
 * JSON object.
 */
export async function editSnapshotJson(file: string, edit: (doc: Record<string, unknown>) => void, use: (pieces: AsyncIterable<Uint8Array>) => Promise<void>): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    throw withPath(err, 'reading', file);
  }
  try {
    const { read, scan } = await scanOpened(fh, file, { keep: false, check: () => null });
    const doc = read ?? (await readWhole(file, { keep: true, check: () => null }));
    if ('problem' in doc) throw new Error(doc.problem);
    const value = doc.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${file} is not a JSON object`);
    edit(value as Record<string, unknown>);
    const text = JSON.stringify(value, null, 2);
    const at = text.indexOf(EMPTY_FILES);
    if (read === null || at < 0) return await use(once(Buffer.from(`${text}\n`)));
    await use(spliced(fh, text, at, scan));
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function* once(piece: Uint8Array): AsyncGenerator<Uint8Array> {
  yield piece;
}

/** `text` (a document with `files: []` at `at`) with the entries `scan` found in `fh` put back between the brackets. */
async function* spliced(fh: fsp.FileHandle, text: string, at: number, scan: FilesScan): AsyncGenerator<Uint8Array> {
  yield Buffer.from(`${text.slice(0, at)}\n  "files": [`);
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = scan.entriesStart; pos < scan.entriesEnd; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, scan.entriesEnd - pos), pos);
    if (bytesRead === 0) throw new Error(`the file ended at byte ${pos} while copying its files entries`);
    // Copied: the consumer may still hold the piece when the buffer is read into again.
    yield Buffer.from(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  yield Buffer.from(`]${text.slice(at + EMPTY_FILES.length)}\n`);
}

/** The document of an unexpected shape, read and parsed whole (then `files` checked and kept or dropped). */
async function readWhole(file: string, rule: FilesRule): Promise<ReadJson> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    return { problem: readProblem(file, err) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: notJson(file, err) };
  }
  let filesProblem: string | null = null;
  const files = (value as { files?: unknown } | null)?.files;
  if (Array.isArray(files)) {
    for (const f of files) {
      if (filesProblem !== null) break;
      filesProblem = rule.check(f);
      if (filesProblem === null && rule.keep) rule.share?.(f);
    }
    if (!rule.keep) (value as { files: unknown[] }).files = [];
  }
  return { value, filesProblem };
}

function readProblem(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? `${path.basename(file)} is missing (unfinished or damaged)` : (err as Error).message;
}

function notJson(file: string, err: unknown): string {
  return `${path.basename(file)} is not valid JSON: ${(err as Error).message}`;
}
