/**
 * Builders for real model files in tests: safetensors files laid out as the reference
 * implementation (huggingface/safetensors) writes them, and zip archives as Python's `zipfile`
 * writes a Keras `.keras` file.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

/** Bytes per element of the safetensors dtypes the tests use. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2, I64: 8, U8: 1 };

/** A tensor to write: dtype and shape; its bytes are filled with a repeating pattern. */
export interface TensorSpec {
  dtype: keyof typeof DTYPE_BYTES | string;
  shape: number[];
}

/**
 * The header part of a safetensors file: the 8-byte little-endian length and the JSON, exactly as
 * the reference serializer lays it out: compact JSON, `__metadata__` first, tensors ordered by dtype
 * size (largest first) then name, `data_offsets` relative to the end of the header, and the JSON
 * padded with spaces to a multiple of 8 bytes. Also returns the size of the data area.
 */
export function safetensorsHeader(
  tensors: Record<string, TensorSpec>,
  metadata?: Record<string, string>,
): { header: Buffer; dataBytes: number } {
  const names = Object.keys(tensors).sort((a, b) => bytesOf(tensors[b]!.dtype) - bytesOf(tensors[a]!.dtype) || (a < b ? -1 : a > b ? 1 : 0));
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const size = t.shape.reduce((n, d) => n * d, 1) * bytesOf(t.dtype);
    json[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let text = Buffer.from(JSON.stringify(json), 'utf8');
  const pad = (8 - (text.length % 8)) % 8;
  text = Buffer.concat([text, Buffer.alloc(pad, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  return { header: Buffer.concat([length, text]), dataBytes: offset };
}

/** A whole safetensors file: `safetensorsHeader` followed by the tensor bytes. */
export function safetensorsFile(tensors: Record<string, TensorSpec>, metadata?: Record<string, string>): Buffer {
  const { header, dataBytes } = safetensorsHeader(tensors, metadata);
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (i * 31 + 7) & 0xff;
  return Buffer.concat([header, data]);
}

function bytesOf(dtype: string): number {
  return DTYPE_BYTES[dtype] ?? 4;
}

/** A zip entry's content: text, bytes, or `{ hole: n }` for n bytes left unwritten (a sparse file's hole). */
export type ZipContent = string | Buffer | { hole: number };

/**
 * A zip archive of `entries` (name → content, in order) with local headers, a central directory and
 * an end record, as Python's `zipfile.ZipFile(f, "w")` writes them: stored (the default) or
 * deflated. Returns the byte runs to write and the archive's total size; holes are left out of the
 * runs (their CRC is written as 0, so only readers that skip CRC checks accept them).
 */
export function zipLayout(entries: Record<string, ZipContent>, method: 'stored' | 'deflated' = 'stored'): { parts: { at: number; bytes: Buffer }[]; size: number } {
  const parts: { at: number; bytes: Buffer }[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const hole = typeof content === 'object' && !Buffer.isBuffer(content) ? content.hole : null;
    const data = hole === null ? (Buffer.isBuffer(content) ? content : Buffer.from(content as string, 'utf8')) : null;
    const packed = data && method === 'deflated' ? zlib.deflateRawSync(data) : data;
    const size = data ? data.length : (hole as number);
    const packedSize = packed ? packed.length : (hole as number);
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = data ? zlib.crc32(data) : 0;
    const code = data && method === 'deflated' ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(code, 8);
    local.writeUInt16LE(0x6000, 10); // mod time
    local.writeUInt16LE(0x58a1, 12); // mod date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packedSize, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(code, 10);
    central.writeUInt16LE(0x6000, 12);
    central.writeUInt16LE(0x58a1, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packedSize, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: regular file, 0644
    central.writeUInt32LE(offset, 42);
    parts.push({ at: offset, bytes: Buffer.concat([local, nameBytes, packed ?? Buffer.alloc(0)]) });
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + packedSize;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  parts.push({ at: offset, bytes: Buffer.concat([directory, end]) });
  return { parts, size: offset + directory.length + end.length };
}

/** `zipLayout` of entries without holes, as one buffer. */
export function zipFile(entries: Record<string, string | Buffer>, method: 'stored' | 'deflated' = 'stored'): Buffer {
  const { parts, size } = zipLayout(entries, method);
  const out = Buffer.alloc(size);
  for (const { at, bytes } of parts) bytes.copy(out, at);
  return out;
}

/** Writes `zipLayout(entries)` to `file`, leaving holes unwritten (sparse). */
export function writeSparseZip(file: string, entries: Record<string, ZipContent>): void {
  const { parts, size } = zipLayout(entries);
  const fd = fs.openSync(file, 'w');
  try {
    for (const { at, bytes } of parts) fs.writeSync(fd, bytes, 0, bytes.length, at);
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}
