/**
 * Walking DeepFaceLab's pickled `loss_history` (a list of lists of floats, one per iteration) to
 * its last entry without building it. `pickle-prefix.ts` builds every value it reads and memoizes
 * every list: a million iterations cost it about 250 MB and a second. This walk keeps only what
 * is pending on the pickle stack (at most one batch of 1,000 entries: `Pickler._batch_appends`),
 * so its memory does not grow with the history, and it executes nothing either.
 *
 * How CPython pickles the history (protocols 2 to 5): EMPTY_LIST, then batches of up to 1,000
 * entries (`MARK` items `APPENDS`, or one item and `APPEND`); each entry is EMPTY_LIST and its
 * floats (BINFLOAT) the same way; memo opcodes follow each list, FRAME opcodes come between any
 * two (protocol 4 and up).
 */

/** Where a walk ended: past the whole list, at the end of the bytes, or at something it does not know. */
export type WalkEnd = 'whole' | 'cut' | 'bad';

const EMPTY_LIST = 0x5d;
const MARK = 0x28;
const BINFLOAT = 0x47;
const APPEND = 0x61;
const APPENDS = 0x65;
/** Opcode → how many argument bytes to skip: BINPUT, LONG_BINPUT, MEMOIZE, FRAME. */
const SKIPPED: ReadonlyMap<number, number> = new Map([
  [0x71, 1],
  [0x72, 4],
  [0x94, 0],
  [0x95, 8],
]);

/**
 * The most items pending on the walk's stack: what CPython leaves there is the history, a batch of
 * up to 1,000 entries and one entry's batch of up to 1,000 floats, with their marks. A crafted
 * history (millions of EMPTY_LIST, each an entry never appended) grew it a list per byte.
 */
export const MAX_PENDING = 4096;

/** What the walk keeps on its stack: the history itself (`OUTER`), entries, floats and marks. */
type Item = number[] | number | typeof OUTER | typeof MARK_ITEM;
const OUTER = Symbol('history');
const MARK_ITEM = Symbol('mark');

/**
 * The last entry of the list of lists of floats whose EMPTY_LIST is the first opcode at or after
 * `at` (memo and FRAME opcodes before it are skipped, so `at` may be just past the dict key).
 * `whole`: the list was closed and the next opcode is not part of it; `last` is its last entry
 * (null for an empty list). `cut`: the bytes ended first. `bad`: an opcode that does not belong in
 * such a list, or more than `MAX_PENDING` items pending; `last` is then null.
 */
export function lastFloatList(bytes: Buffer, at: number): { end: WalkEnd; last: number[] | null } {
  const stack: Item[] = [];
  let last: number[] | null = null;
  const bad = { end: 'bad' as const, last: null };
  let pos = at;
  while (pos < bytes.length) {
    const op = bytes[pos] as number;
    const skip = SKIPPED.get(op);
    if (skip !== undefined) {
      pos += 1 + skip;
      continue;
    }
    if (stack.length === 0 && op !== EMPTY_LIST) return bad;
    // The list is closed and the next opcode starts something else (the next key of the dict).
    if (stack.length === 1 && op !== EMPTY_LIST && op !== MARK) return { end: 'whole', last };
    pos++;
    if (stack.length >= MAX_PENDING && (op === EMPTY_LIST || op === MARK || op === BINFLOAT)) return bad;
    if (op === EMPTY_LIST) stack.push(stack.length === 0 ? OUTER : []);
    else if (op === MARK) stack.push(MARK_ITEM);
    else if (op === BINFLOAT) {
      if (pos + 8 > bytes.length) break;
      stack.push(bytes.readDoubleBE(pos));
      pos += 8;
    } else if (op === APPEND || op === APPENDS) {
      let items: Item[];
      if (op === APPEND) items = stack.splice(-1);
      else {
        const mark = stack.lastIndexOf(MARK_ITEM);
        if (mark < 0) return bad;
        items = stack.splice(mark + 1);
        stack.pop();
      }
      const target = stack[stack.length - 1];
      if (target === OUTER && items.every((i) => Array.isArray(i))) last = (items[items.length - 1] as number[] | undefined) ?? last;
      else if (Array.isArray(target) && items.every((i) => typeof i === 'number')) for (const item of items as number[]) target.push(item);
      else return bad;
    } else return bad;
  }
  return { end: 'cut', last: null };
}
