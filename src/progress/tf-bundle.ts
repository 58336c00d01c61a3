/**
 * Reading a TensorFlow checkpoint's index (`<prefix>.index`, the "tensor bundle" of
 * tensorflow/core/util/tensor_bundle) without TensorFlow, to find where a few scalar variables lie
 * in its data files.
 *
 * The index is a LevelDB-format table (tensorflow/core/lib/io: `table_builder.cc`, `block.cc`,
 * `format.cc`): data blocks of prefix-compressed key/value entries, an index block pointing at them,
 * and a 48-byte footer ending in the magic 0xdb4775248b80fb57. `BundleWriter::Finish` writes it
 * uncompressed. The entry under the empty key is a `BundleHeaderProto` (`num_shards`); every other
 * key, such as `ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE`, maps to a `BundleEntryProto`
 * (`dtype`, `shard_id`, `offset`, `size`) locating the tensor's bytes in
 * `<prefix>.data-<shard>-of-<num_shards>` (5 digits each).
 */

/** Where one tensor's bytes are. */
export interface BundleEntry {
  /** `DataType` enum: 9 is DT_INT64, 1 DT_FLOAT. */
  dtype: number;
  shardId: number;
  offset: number;
  size: number;
}

/** What an index holds: the number of data files and every tensor's entry by key. */
export interface BundleIndex {
  numShards: number;
  entries: Map<string, BundleEntry>;
}

/** `DataType` DT_INT64. */
export const DT_INT64 = 9;

const FOOTER_BYTES = 48;
const MAGIC_LOW = 0x8b80fb57;
const MAGIC_HIGH = 0xdb477524;
const BLOCK_TRAILER_BYTES = 5;
/**
 * The most key bytes rebuilt over a whole index (32 MiB, four times the biggest index read). Keys
 * are prefix-compressed, so they take more room rebuilt than in the file, but a real index's are
 * variable paths of about 100 bytes; an entry that repeats a long key costs 3 bytes of the file.
 */
export const MAX_BUNDLE_KEY_BYTES = 32 * 1024 * 1024;

/** Thrown inside the parser on bytes that are not a well-formed index; caught before it escapes. */
class Malformed extends Error {}

/** What walking an index may still cost: key bytes to rebuild, block bytes to walk. */
interface Budget {
  keyBytes: number;
  blockBytes: number;
}

/**
 * The index `bytes` (a whole `.index` file) parsed, or null when it is not an uncompressed tensor
 * bundle index, or a crafted one: its keys rebuilt take more than `MAX_BUNDLE_KEY_BYTES`, or its
 * blocks add up to more than the file (a real index's blocks do not overlap). Never throws.
 */
export function readBundleIndex(bytes: Buffer): BundleIndex | null {
  try {
    if (bytes.length < FOOTER_BYTES) return null;
    const footer = bytes.subarray(bytes.length - FOOTER_BYTES);
    if (footer.readUInt32LE(40) !== MAGIC_LOW || footer.readUInt32LE(44) !== MAGIC_HIGH) return null;
    const reader = new VarintReader(footer);
    reader.varint(); // metaindex offset
    reader.varint(); // metaindex size
    const indexBlock = block(bytes, reader.varint(), reader.varint());
    let numShards = 1;
    const entries = new Map<string, BundleEntry>();
    const budget: Budget = { keyBytes: MAX_BUNDLE_KEY_BYTES, blockBytes: bytes.length };
    for (const [, handle] of blockEntries(indexBlock, budget)) {
      const handleReader = new VarintReader(handle);
      for (const [key, value] of blockEntries(block(bytes, handleReader.varint(), handleReader.varint()), budget)) {
        const name = key.toString('utf8');
        if (name === '') numShards = protoFields(value).get(1) ?? 1;
        else entries.set(name, bundleEntry(value));
      }
    }
    return { numShards, entries };
  } catch {
    return null;
  }
}

/** The data file of `shardId` for the checkpoint `prefix` (`ckpt-4` → `ckpt-4.data-00000-of-00001`). */
export function bundleDataFile(prefix: string, shardId: number, numShards: number): string {
  return `${prefix}.data-${String(shardId).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}`;
}

/** The contents of the block at `offset` of `size` bytes; only uncompressed blocks (type 0). */
function block(bytes: Buffer, offset: number, size: number): Buffer {
  if (offset + size + BLOCK_TRAILER_BYTES > bytes.length) throw new Malformed();
  if (bytes[offset + size] !== 0) throw new Malformed();
  return bytes.subarray(offset, offset + size);
}

/**
 * A block's entries in order, each key rebuilt from the shared prefix of the one before; one at a
 * time, so only the current key is held. Throws `Malformed` past `budget`, which it draws down.
 */
function* blockEntries(contents: Buffer, budget: Budget): Generator<[Buffer, Buffer]> {
  if (contents.length < 4) throw new Malformed();
  budget.blockBytes -= contents.length;
  if (budget.blockBytes < 0) throw new Malformed();
  const restarts = contents.readUInt32LE(contents.length - 4);
  const end = contents.length - 4 * (restarts + 1);
  if (end < 0) throw new Malformed();
  const reader = new VarintReader(contents.subarray(0, end));
  let key = Buffer.alloc(0);
  while (!reader.done()) {
    const shared = reader.varint();
    const nonShared = reader.varint();
    const valueLength = reader.varint();
    if (shared > key.length) throw new Malformed();
    budget.keyBytes -= shared + nonShared;
    if (budget.keyBytes < 0) throw new Malformed();
    key = Buffer.concat([key.subarray(0, shared), reader.take(nonShared)]);
    yield [key, reader.take(valueLength)];
  }
}

/** A `BundleEntryProto`: fields 1 dtype, 3 shard_id, 4 offset, 5 size. */
function bundleEntry(value: Buffer): BundleEntry {
  const fields = protoFields(value);
  return { dtype: fields.get(1) ?? 0, shardId: fields.get(3) ?? 0, offset: fields.get(4) ?? 0, size: fields.get(5) ?? 0 };
}

/** The varint fields of a protobuf message by number (the last one wins); other wire types are skipped. */
function protoFields(message: Buffer): Map<number, number> {
  const fields = new Map<number, number>();
  const reader = new VarintReader(message);
  while (!reader.done()) {
    const tag = reader.varint();
    const wire = tag & 7;
    if (wire === 0) fields.set(Math.floor(tag / 8), reader.varint());
    else if (wire === 1) reader.take(8);
    else if (wire === 2) reader.take(reader.varint());
    else if (wire === 5) reader.take(4);
    else throw new Malformed();
  }
  return fields;
}

/** Sequential reads of varints and byte runs; throws `Malformed` past the end. */
class VarintReader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}

  done(): boolean {
    return this.at >= this.bytes.length;
  }

  /** An unsigned LEB128 varint, up to 2^53. */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 56; shift += 7) {
      const byte = this.bytes[this.at++];
      if (byte === undefined) throw new Malformed();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new Malformed();
        return value;
      }
    }
    throw new Malformed();
  }

  take(length: number): Buffer {
    if (this.at + length > this.bytes.length) throw new Malformed();
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
}
