/**
 * The byte scan behind `readSnapshotJson` (`snapshot-json.ts`): it follows the structure of a JSON
 * document fed in chunks (nesting, strings and their escapes, the keys of the top-level object),
 * never its values, to find the top-level `files` array, whose entries it parses a batch at a time
 * and hands to the reader's rule; the rest of the document it keeps as bytes, the array emptied.
 * Bytes of a UTF-8 sequence are never ASCII, so a byte that looks like a quote or bracket is one.
 */

/** How `readSnapshotJson` treats the entries of the top-level `files` array. */
export interface FilesRule {
  /** Keep them in the result (else `files` is `[]` and each entry is only checked). */
  keep: boolean;
  /** The problem with one entry, or null: the first problem is returned as `filesProblem`. */
  check: (entry: unknown) => string | null;
  /**
   * Called with each entry kept that `check` found no problem with (up to the first problem), in
   * the document's order: it may make the entry hold equal strings it shares with others.
   */
  share?: (entry: unknown) => void;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');
/** `"files"`, as the bytes of the key between its quotes. */
const FILES_KEY = Buffer.from('files');

/**
 * One document's scan: `feed` it the bytes in order; then, unless `failed` (a shape it does not
 * expect: the caller parses the document whole) or not `done` (no top-level `files` array),
 * `outerText()` is the document with `files: []` and `files` its entries (those the rule keeps).
 */
export class FilesScan {
  /** Entries parsed so far (kept by the rule). */
  readonly files: unknown[] = [];
  filesProblem: string | null = null;
  /** The shape was not the expected one: the caller reads the document whole instead. */
  failed = false;
  /** The files array was found and closed. */
  done = false;
  /**
   * Where the files array's entries are in the document, once `done`: from the byte after its `[`
   * to its `]` (byte offsets from the document's start).
   */
  entriesStart = -1;
  entriesEnd = -1;
  /** Bytes fed before the current chunk. */
  private fed = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Where the scan is: before the files array, inside it, after it. */
  private phase: 'before' | 'files' | 'after' = 'before';
  /** Bytes of the document outside the files array's entries (its brackets kept). */
  private readonly outer: Buffer[] = [];
  /** Bytes of entries not parsed yet, and how many of them end at an entry boundary. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The key of the top-level member being read (its bytes, capped), and whether it is `files`. */
  private key: number[] | null = null;
  private lastKeyIsFiles = false;
  /** The entries so far were parsed up to a comma (a split): an entry must follow it. */
  private splitAtComma = false;
  private memberIsFiles = false;

  /** `batch`: entry bytes parsed per `JSON.parse` (see `BATCH` in `snapshot-json.ts`). */
  constructor(
    private readonly rule: FilesRule,
    private readonly batch: number,
  ) {}

  /**
   * Scans the next bytes. `chunk` may be reused once this returns: what the scan keeps of it (the
   * bytes outside the array, an entry cut by the chunk's end) is copied, so a reader needs one
   * buffer per document, not one per chunk alive until the next collection (a 1 MiB buffer per
   * MiB read held 20-30 MB of memory outside the heap after each manifest).
   */
  feed(chunk: Buffer): void {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (this.inString && !this.escaped && this.key === null) {
        // The inside of a string says nothing of the structure (most of a manifest's bytes are
        // paths and digests): jump to the quote that ends it, one after an even run of backslashes.
        const end = this.stringEnd(chunk, i);
        if (end < 0) break;
        i = end;
      }
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) {
          this.escaped = true;
          // Kept: a key with an escape is never `files` as written (`"\"files"` is the key `"files`).
          if (this.key !== null && this.key.length <= FILES_KEY.length) this.key.push(b);
        } else if (b === QUOTE) {
          this.inString = false;
          if (this.key !== null) {
            this.lastKeyIsFiles = this.key.length === FILES_KEY.length && FILES_KEY.every((c, k) => this.key![k] === c);
            this.key = null;
          }
        } else if (this.key !== null && this.key.length <= FILES_KEY.length) this.key.push(b);
        continue;
      }
      if (b === QUOTE) {
        this.inString = true;
        // A string directly in the top-level object (a key, or a string value: only a key is followed by ':').
        if (this.depth === 1 && this.phase !== 'files') this.key = [];
      } else if (b === COLON) {
        if (this.depth === 1) this.memberIsFiles = this.lastKeyIsFiles;
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        this.depth++;
        if (b === OPEN_ARRAY && this.depth === 2 && this.memberIsFiles) {
          if (this.phase !== 'before') return this.fail();
          this.outer.push(Buffer.from(chunk.subarray(from, i + 1)));
          from = i + 1;
          this.phase = 'files';
          this.entriesStart = this.fed + i + 1;
        }
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        this.depth--;
        if (this.depth < 0) return this.fail();
        if (this.phase === 'files' && this.depth === 1) {
          this.take(chunk.subarray(from, i));
          // After a batch ended at a comma, an entry must follow it (`[a,]` is not JSON).
          this.parsePending(this.pendingBytes, this.splitAtComma);
          from = i;
          this.phase = 'after';
          this.done = true;
          this.entriesEnd = this.fed + i;
        }
      } else if (b === COMMA) {
        if (this.depth === 1) this.memberIsFiles = false;
        else if (this.phase === 'files' && this.depth === 2 && this.pendingBytes + (i - from) >= this.batch) {
          // An entry boundary with a batch's worth of entries before it: parse them.
          this.take(chunk.subarray(from, i));
          // The comma must follow an entry (`[,a]` is not JSON).
          this.parsePending(this.pendingBytes, true);
          this.splitAtComma = true;
          from = i + 1;
        }
      }
    }
    if (this.phase === 'files') this.take(Buffer.from(chunk.subarray(from)));
    else this.outer.push(Buffer.from(chunk.subarray(from)));
    this.fed += chunk.length;
  }

  /**
   * Where the string being read ends in `chunk` (its closing quote), from `i` on; -1 when not in
   * this chunk, then `escaped` says whether the next chunk's first byte is escaped.
   */
  private stringEnd(chunk: Buffer, i: number): number {
    for (let at = i; ; ) {
      const quote = chunk.indexOf(QUOTE, at);
      const stop = quote < 0 ? chunk.length : quote;
      let slashes = 0;
      while (stop - slashes - 1 >= i && chunk[stop - slashes - 1] === BACKSLASH) slashes++;
      if (quote < 0) {
        this.escaped = slashes % 2 === 1;
        return -1;
      }
      if (slashes % 2 === 0) return quote;
      at = quote + 1;
    }
  }

  /** The document with the files array emptied. */
  outerText(): string {
    return Buffer.concat(this.outer).toString('utf8');
  }

  private take(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /**
   * Parses the first `n` pending bytes (whole entries, commas between them) as entries; with
   * `needEntry`, none is a syntax error (a comma the batches were split at had no entry beside it).
   */
  private parsePending(n: number, needEntry: boolean): void {
    // The entries between brackets, decoded once: one young string per batch.
    const all = Buffer.concat([OPEN, ...this.pending, CLOSE], n + 2);
    this.pending = [];
    this.pendingBytes = 0;
    const entries = JSON.parse(all.toString('utf8')) as unknown[];
    if (needEntry && entries.length === 0) throw new SyntaxError('a comma with no entry beside it in the files array');
    for (const e of entries) {
      // Checked up to the first problem only (the record is refused then anyway).
      if (this.filesProblem === null) {
        this.filesProblem = this.rule.check(e);
        if (this.filesProblem === null && this.rule.keep) this.rule.share?.(e);
      }
      if (this.rule.keep) this.files.push(e);
    }
  }

  private fail(): void {
    this.failed = true;
  }
}
