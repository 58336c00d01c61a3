/**
 * Reading the header of a `.safetensors` file without reading its tensors.
 *
 * The format (huggingface/safetensors): 8 bytes `N`, an unsigned little-endian 64-bit integer; then
 * `N` bytes of UTF-8 JSON that must begin with `{` and may be padded at the end with spaces; then
 * the tensor bytes. The JSON maps each tensor name to `{"dtype", "shape", "data_offsets": [BEGIN,
 * END]}` (offsets relative to the end of the header), plus an optional `__metadata__` object of
 * string to string.
 */
import { isPlainObject } from './numbers.js';
import { withRangeReader } from './read-range.js';
import type { RunView } from './types.js';

/**
 * The biggest header read (16 MiB). Real headers are a few KB to a few MB (thousands of tensor
 * names, kohya's tag frequencies, a base64 thumbnail); a bigger length field is treated as garbage
 * rather than allocated.
 */
export const MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024 * 1024;
/**
 * The most `:` and `,` outside strings in a header (262,144): about 9 a tensor, so some 29,000
 * tensors, where real files hold up to a few thousand (metadata values are strings, whatever they
 * hold). Parsing 16 MiB of members (`{"k1":"v","k2":"v",...}`) held the thread for seconds.
 */
export const MAX_SAFETENSORS_HEADER_VALUES = 1 << 18;
/** The deepest nesting of `{` and `[` in a header: a real one nests 3 deep (`{name: {shape: [...]}}`). */
export const MAX_SAFETENSORS_HEADER_DEPTH = 16;

/** What a safetensors header says besides where the tensor bytes are. */
export interface SafetensorsHeader {
  /** `__metadata__`'s string values (empty when there is none); non-string values are left out. */
  metadata: Record<string, string>;
  /** The tensor names, in header order. */
  tensorNames: string[];
}

/**
 * The header of the safetensors file `file` (absolute path), reading only its first `8 + N` bytes.
 * Null, never rejecting, when the file is missing, unreadable, not a regular file, or not a
 * complete safetensors file: shorter than 8 bytes, a header length above
 * `MAX_SAFETENSORS_HEADER_BYTES` or past the end of the file, a header that is not UTF-8 JSON
 * starting with `{`, more values than `MAX_SAFETENSORS_HEADER_VALUES` or nesting deeper than
 * `MAX_SAFETENSORS_HEADER_DEPTH`, a `__metadata__` that is not an object, a tensor entry without
 * valid `data_offsets`, or tensor data extending past the end of the file (a file still being written).
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader | null> {
  return withRangeReader(file, async (reader) => {
    const n = headerLength(await reader.read(0, 8));
    if (n === null || 8 + n > reader.size) return null;
    const json = await reader.read(8, n);
    return json ? parseSafetensorsHeader(json, reader.size - 8 - n) : null;
  });
}

/**
 * Parses header bytes (`N` bytes after the length field) of a file whose tensor data area holds
 * `dataBytes` bytes. Null when they are not a valid header for such a file (see
 * `readSafetensorsHeader`). Never throws.
 */
export function parseSafetensorsHeader(json: Buffer, dataBytes: number): SafetensorsHeader | null {
  if (json[0] !== 0x7b || !withinCaps(json)) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return null;
  }
  if (!isPlainObject(doc)) return null;
  // No prototype: a `__proto__` key in the file is just a key.
  const metadata = Object.create(null) as Record<string, string>;
  const tensorNames: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === '__metadata__') {
      if (!isPlainObject(value)) return null;
      for (const [k, v] of Object.entries(value)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    const end = dataEnd(value);
    if (end === null || end > dataBytes) return null;
    tensorNames.push(key);
  }
  return { metadata, tensorNames };
}

/**
 * True when the JSON `json` has at most `MAX_SAFETENSORS_HEADER_VALUES` separators and nests at
 * most `MAX_SAFETENSORS_HEADER_DEPTH` deep outside its strings: one pass, before anything is built.
 */
function withinCaps(json: Buffer): boolean {
  let values = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a || c === 0x2c) {
      if (++values > MAX_SAFETENSORS_HEADER_VALUES) return false;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_SAFETENSORS_HEADER_DEPTH) return false;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return true;
}

/** The END of a tensor entry's `data_offsets: [BEGIN, END]`, or null when the entry is malformed. */
function dataEnd(entry: unknown): number | null {
  if (!isPlainObject(entry)) return null;
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) return null;
  const [begin, end] = offsets as unknown[];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) return null;
  return (begin as number) >= 0 && (begin as number) <= (end as number) ? (end as number) : null;
}

/**
 * `readSafetensorsHeader` for a file of a run, through its view (so a snapshot's copy reads as the
 * live file does): the header only, never the tensors. Null when the file is not a safetensors
 * file or its header is over `MAX_SAFETENSORS_HEADER_BYTES`; never rejects. Tensor offsets are not
 * checked against the file's size, which a view does not give.
 */
export async function readSafetensorsHeaderOf(view: RunView, rel: string): Promise<SafetensorsHeader | null> {
  const n = headerLength(await view.readPrefix(rel, 8));
  if (n === null) return null;
  const bytes = await view.readPrefix(rel, 8 + n);
  if (!bytes || bytes.length < 8 + n) return null;
  return parseSafetensorsHeader(bytes.subarray(8), Number.MAX_SAFE_INTEGER);
}

/** The header's length from a file's first 8 bytes; null when they are missing or it is out of bounds. */
function headerLength(prefix: Buffer | null): number | null {
  if (!prefix || prefix.length < 8) return null;
  const length = prefix.readBigUInt64LE(0);
  return length < 2n || length > BigInt(MAX_SAFETENSORS_HEADER_BYTES) ? null : Number(length);
}
