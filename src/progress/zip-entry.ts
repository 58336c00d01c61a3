/**
 * Reading one entry of a zip archive (such as `config.json` inside a Keras `.keras` file, or the
 * start of `archive/data.pkl` inside a `torch.save` file) through the central directory, without
 * reading the archive whole. Supports stored and deflated entries and zip64 archives (PKWARE
 * APPNOTE 4.3: end of central directory, central directory file headers, local file headers, zip64
 * extra field). Sizes come from the central directory, so entries written with a data descriptor
 * (general purpose bit 3, as `torch.save`'s miniz writer does) read the same.
 */
import zlib from 'node:zlib';
import { withRangeReader, type RangeReader } from './read-range.js';
import type { ZipEntryPick } from './types.js';

/** The biggest central directory read (4 MiB): a `.keras` or `torch.save` file has a handful of entries. */
const MAX_CENTRAL_DIRECTORY_BYTES = 4 * 1024 * 1024;
const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const U32_MAX = 0xffffffff;

/**
 * The uncompressed bytes of the entry called `name` in the zip archive `file` (absolute path), or
 * null, never rejecting, when the file is not a readable zip, has no such entry, the entry is
 * encrypted, compressed other than stored/deflate, or bigger than `maxBytes` (compressed or not).
 * Reads the archive's tail, its central directory (at most 4 MiB) and the entry: never the rest.
 */
export async function readZipEntry(file: string, name: string, maxBytes: number): Promise<Buffer | null> {
  return withRangeReader(file, (reader) => readEntry(reader, (names) => (names.includes(name) ? name : null), maxBytes, false));
}

/**
 * The first `maxBytes` bytes (all of it when shorter) of the entry that `pick` chooses in the zip
 * archive `reader` reads, or null, never rejecting, when it is not a readable zip, `pick` chooses
 * nothing, or the entry is encrypted or compressed other than stored/deflate. Of a stored entry only
 * the prefix is read, however big the entry; a deflated one is read only when it fits `maxBytes`
 * whole (compressed and not).
 */
export async function readZipEntryPrefix(reader: RangeReader, pick: ZipEntryPick, maxBytes: number): Promise<Buffer | null> {
  try {
    return await readEntry(reader, pick, maxBytes, true);
  } catch {
    return null;
  }
}

/** `readZipEntry` (whole entries) and `readZipEntryPrefix` (prefixes of stored ones). May throw (inflate). */
async function readEntry(reader: RangeReader, pick: ZipEntryPick, maxBytes: number, prefix: boolean): Promise<Buffer | null> {
  const directory = await readCentralDirectory(reader);
  if (!directory) return null;
  const entries = listEntries(directory);
  const name = pick(entries.map((e) => e.name));
  const entry = name === null ? undefined : entries.find((e) => e.name === name);
  if (!entry || entry.encrypted || (entry.method !== 0 && entry.method !== 8)) return null;
  const partial = prefix && entry.method === 0;
  if (!partial && (entry.compressedSize > maxBytes || entry.size > maxBytes)) return null;
  const local = await reader.read(entry.localOffset, 30);
  if (!local || local.readUInt32LE(0) !== LOCAL_SIGNATURE) return null;
  const dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) return null;
    return reader.read(dataStart, partial ? Math.min(entry.size, Math.max(0, maxBytes)) : entry.size);
  }
  const data = await reader.read(dataStart, entry.compressedSize);
  if (!data) return null;
  const out = zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes) });
  return out.length === entry.size ? out : null;
}

interface Entry {
  name: string;
  method: number;
  encrypted: boolean;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The central directory's bytes, located through the (zip64) end of central directory record. */
async function readCentralDirectory(reader: RangeReader): Promise<Buffer | null> {
  if (reader.size < EOCD_SIZE) return null;
  // The record ends the file, after a comment of at most 65535 bytes.
  const tailLength = Math.min(reader.size, EOCD_SIZE + 0xffff);
  const tailStart = reader.size - tailLength;
  const tail = await reader.read(tailStart, tailLength);
  if (!tail) return null;
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  let size = tail.readUInt32LE(eocd + 12);
  let offset = tail.readUInt32LE(eocd + 16);
  if ((size === U32_MAX || offset === U32_MAX) && eocd >= 20 && tail.readUInt32LE(eocd - 20) === ZIP64_LOCATOR_SIGNATURE) {
    const record = await reader.read(safeNumber(tail.readBigUInt64LE(eocd - 20 + 8)), 56);
    if (!record || record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) return null;
    size = safeNumber(record.readBigUInt64LE(40));
    offset = safeNumber(record.readBigUInt64LE(48));
  }
  if (size > MAX_CENTRAL_DIRECTORY_BYTES) return null;
  return reader.read(offset, size);
}

/** Every central directory header, in order, with its zip64 fields applied; stops at the first malformed one. */
function listEntries(directory: Buffer): Entry[] {
  const entries: Entry[] = [];
  let at = 0;
  while (at + 46 <= directory.length && directory.readUInt32LE(at) === CENTRAL_SIGNATURE) {
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > directory.length) break;
    const entry: Entry = {
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      method: directory.readUInt16LE(at + 10),
      encrypted: (directory.readUInt16LE(at + 8) & 1) === 1,
      compressedSize: directory.readUInt32LE(at + 20),
      size: directory.readUInt32LE(at + 24),
      localOffset: directory.readUInt32LE(at + 42),
    };
    applyZip64(entry, directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength));
    entries.push(entry);
    at = next;
  }
  return entries;
}

/** Replaces the 32-bit fields set to 0xFFFFFFFF by the zip64 extra field's 64-bit values (in its order). */
function applyZip64(entry: Entry, extra: Buffer): void {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const end = Math.min(field + length, extra.length);
      const next = (): number | null => {
        if (field + 8 > end) return null;
        const value = safeNumber(extra.readBigUInt64LE(field));
        field += 8;
        return value;
      };
      if (entry.size === U32_MAX) entry.size = next() ?? entry.size;
      if (entry.compressedSize === U32_MAX) entry.compressedSize = next() ?? entry.compressedSize;
      if (entry.localOffset === U32_MAX) entry.localOffset = next() ?? entry.localOffset;
      return;
    }
    at += 4 + length;
  }
}

/** A 64-bit field as a number; past `Number.MAX_SAFE_INTEGER` it becomes -1, which every read refuses. */
function safeNumber(value: bigint): number {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : -1;
}
