/**
 * The resume state of a multipart upload: plain JSON that `putBlob` reports after every change and
 * that the caller persists (e.g. beside its push queue), so that a later `putBlob` of the same blob,
 * in this process or after a restart, sends only the parts that are not finished yet. Pure.
 */

/** A part the object store acknowledged. */
export interface UploadedPart {
  /** 1-based. */
  number: number;
  /** The ETag S3 answered; CompleteMultipartUpload needs it. */
  etag: string;
  /** sha256 of the bytes sent, so a resume re-reads the part and resends it when the file differs there. */
  sha256: string;
  size: number;
}

/** Everything needed to resume the multipart upload of one blob. */
export interface UploadState {
  /** The blob's object key. */
  key: string;
  sha: string;
  size: number;
  /** Every part but the last has exactly this size. */
  partSize: number;
  uploadId: string;
  /** Acknowledged parts, by number. */
  parts: UploadedPart[];
}

export const MiB = 1024 * 1024;
/** S3's smallest part (all but the last), and its most parts per upload. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PARTS = 10_000;
export const DEFAULT_PART_SIZE = 16 * MiB;

/**
 * The part size for a blob of `size` bytes: `preferred` (at least 5 MiB), grown to whole MiB when
 * the blob would otherwise need more than 10,000 parts.
 */
export function choosePartSize(size: number, preferred: number = DEFAULT_PART_SIZE): number {
  const floor = Math.max(MIN_PART_SIZE, preferred);
  const needed = Math.ceil(Math.ceil(size / MAX_PARTS) / MiB) * MiB;
  return Math.max(floor, needed);
}

/** How many parts a blob of `size` bytes has with `partSize` (at least 1). */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** The byte range of part `number` (1-based). */
export function partRange(size: number, partSize: number, number: number): { position: number; length: number } {
  const position = (number - 1) * partSize;
  return { position, length: Math.min(partSize, size - position) };
}

/** `state` with `part` recorded (replacing an earlier record of the same number), parts in order. */
export function withPart(state: UploadState, part: UploadedPart): UploadState {
  const parts = [...state.parts.filter((p) => p.number !== part.number), part].sort((a, b) => a.number - b.number);
  return { ...state, parts };
}

/** The parts of `state` that CompleteMultipartUpload lists: every part 1..N, or null when one is missing. */
export function completedParts(state: UploadState): { PartNumber: number; ETag: string }[] | null {
  const n = partCount(state.size, state.partSize);
  const out: { PartNumber: number; ETag: string }[] = [];
  for (let i = 1; i <= n; i++) {
    const p = state.parts.find((q) => q.number === i);
    if (p === undefined) return null;
    out.push({ PartNumber: i, ETag: p.etag });
  }
  return out;
}

/** True when `x` (read back from the caller's storage) is a well-formed `UploadState`. */
export function isUploadState(x: unknown): x is UploadState {
  const s = x as Partial<UploadState> | null;
  const count = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.key === 'string' &&
    typeof s.sha === 'string' &&
    typeof s.uploadId === 'string' &&
    s.uploadId !== '' &&
    count(s.size) &&
    count(s.partSize) &&
    (s.partSize as number) >= MIN_PART_SIZE &&
    Array.isArray(s.parts) &&
    s.parts.every((p: Partial<UploadedPart>) => count(p?.number) && typeof p.etag === 'string' && typeof p.sha256 === 'string' && count(p.size))
  );
}
