/**
 * A pickle reader that never executes anything, for the plain data at the start of trainer files:
 * DeepFaceLab's `data.dat` (`iter`, `options`, `loss_history` before numpy preview arrays) and the
 * `data.pkl` of a `torch.save` zip (`epoch`, `global_step` before the `state_dict`).
 *
 * It knows the opcodes of plain values in protocols 2 to 5 (Python's `pickletools`): None, bools,
 * ints, floats, str, bytes, tuples, lists, dicts, sets, marks, the memo and FRAME. It stops at the
 * first opcode it does not know (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, NEWOBJ, BINPERSID, ...) or at
 * the end of the bytes it was given, and returns what it built so far: containers whose items were
 * still pending are filled with what had been read and reported as incomplete. Nothing is ever
 * imported, called or constructed.
 *
 * What an incomplete container holds is a best reading, not a proof: the last items before the cut
 * may be pieces of a value still being built (the elements of a short tuple before its TUPLE2, a
 * key whose value never came), so its last entries can be wrong or missing. The operands of the
 * opcode it stopped at are dropped; beyond that, a caller takes a value from an incomplete
 * container only where the writer's layout says what must be there (DeepFaceLab's `iter` is the
 * first key and an int) and checks its type.
 *
 * With `{ objects: true }` it reads past objects instead of stopping at them, for plain values that
 * come after them (Lightning's `loops` after the `state_dict`'s tensors): see `PickleObject`.
 * Past 300 lines because the opcodes, the one stack machine they act on and its salvage read best together.
 */

/** A pickled dict, as a null-prototype object: keys are strings (int keys are written in decimal). */
export type PickleDict = Record<string, unknown>;

/** What `readPicklePrefix` read. */
export interface PickleRead {
  /** The outermost value, as far as it was read; undefined when not even that started. */
  value: unknown;
  /** True when the pickle's STOP was reached: everything was read. */
  complete: boolean;
  /** Lists, tuples and dicts that were still being filled when the reading stopped. */
  incomplete: ReadonlySet<object>;
  /**
   * Why it stopped: `stop` (the end of the pickle), `end` (of the bytes), `limit` (past
   * `MAX_PICKLE_MARKS`, `MAX_PICKLE_MEMO` or `MAX_PICKLE_BUILT`), or the unknown opcode, e.g. `opcode 0x63`.
   */
  stoppedBy: string;
}

/**
 * What `{ objects: true }` puts where a pickle names or builds an object, never importing or calling
 * anything: a `global` (GLOBAL, STACK_GLOBAL: `name` is `module.qualname`), an `object` (REDUCE,
 * NEWOBJ, NEWOBJ_EX of a global: `name` is the global's, or `?`; BUILD's state and any items set on
 * it are dropped) or a `persistent` id (BINPERSID, such as a torch storage). The one exception is
 * `collections.OrderedDict()`, which becomes a dict like any other.
 */
export class PickleObject {
  constructor(
    readonly kind: 'global' | 'object' | 'persistent',
    readonly name: string,
  ) {
    Object.freeze(this);
  }
}

/** Options of `readPicklePrefix`. */
export interface PickleOptions {
  /** Read past objects (`PickleObject`) instead of stopping at the first; default false. */
  objects?: boolean;
}

/**
 * The most marks pending at once: one per container being built, so the nesting depth, which the
 * pickler bounds by Python's recursion limit (1,000 by default). A file of MARKs kept one each,
 * and the salvage made a list of each.
 */
export const MAX_PICKLE_MARKS = 10_000;
/**
 * The most memo entries kept (1,048,576): a real pickle memoizes about one value per 15 bytes, so
 * the 8 MiB of a Lightning checkpoint read hold about 560,000; a file of MEMOIZE kept one a byte.
 */
export const MAX_PICKLE_MEMO = 1 << 20;
/**
 * The most lists, tuples, dicts, byte strings and objects built (2,097,152): a Lightning
 * checkpoint's pickle builds one per 20 bytes, some 420,000 in the 8 MiB read; a file of EMPTY_LIST
 * built one (32 bytes and more) a byte, of SHORT_BINBYTES a Buffer every 2 bytes.
 */
export const MAX_PICKLE_BUILT = 1 << 21;

/** Thrown inside the reader when the bytes run out mid-opcode; caught before it escapes. */
class EndOfBytes extends Error {}
/** Thrown inside the reader past `MAX_PICKLE_MARKS`, `MAX_PICKLE_MEMO` or `MAX_PICKLE_BUILT`; caught before it escapes. */
class Limit extends Error {}

/**
 * Reads the pickle at the start of `bytes` (which may be only a prefix of the file) without
 * executing anything. Never throws: malformed input stops the reading like an unknown opcode, and
 * so do more than `MAX_PICKLE_MARKS` pending marks, `MAX_PICKLE_MEMO` memo entries or
 * `MAX_PICKLE_BUILT` values built (`limit`).
 * Dicts come back as null-prototype objects with string keys (other key types are dropped),
 * tuples and sets as arrays, bytes as Buffers, ints as numbers (bigint beyond 2^53).
 */
export function readPicklePrefix(bytes: Buffer, options: PickleOptions = {}): PickleRead {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const incomplete = new Set<object>();
  let pos = 0;

  const need = (n: number): number => {
    if (pos + n > bytes.length) throw new EndOfBytes();
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)] as number;
  const u16 = (): number => bytes.readUInt16LE(need(2));
  const u32 = (): number => bytes.readUInt32LE(need(4));
  // A length past the bytes is caught by `need` before anything is allocated.
  const u64 = (): number => Number(bytes.readBigUInt64LE(need(8)));
  const take = (n: number): Buffer => bytes.subarray(need(n), pos);
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new EndOfBytes();
    const text = bytes.toString('latin1', pos, end);
    pos = end + 1;
    return text;
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Malformed();
    return stack[stack.length - 1];
  };
  /** The top `n` items, which must all lie above the innermost mark. */
  const popItems = (n: number): unknown[] => {
    if (stack.length - n < (marks[marks.length - 1] ?? 0)) throw new Malformed();
    return stack.splice(stack.length - n);
  };
  let built = 0;
  /** Pushes a value the reader made (a container, a Buffer, an object), counted against `MAX_PICKLE_BUILT`. */
  const pushBuilt = (value: unknown): void => {
    if (++built > MAX_PICKLE_BUILT) throw new Limit();
    stack.push(value);
  };
  const put = (index: number): void => {
    if (memo.size >= MAX_PICKLE_MEMO && !memo.has(index)) throw new Limit();
    memo.set(index, top());
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new Malformed();
    return stack.splice(m);
  };

  let stoppedBy = 'end';
  try {
    for (;;) {
      const op = u8();
      switch (op) {
        case 0x80: u8(); break; // PROTO
        case 0x95: u64(); break; // FRAME: a length hint only
        case 0x2e: stoppedBy = 'stop'; return finish(); // STOP
        case 0x28: // MARK
          if (marks.length >= MAX_PICKLE_MARKS) throw new Limit();
          marks.push(stack.length);
          break;
        case 0x30: // POP
          if (marks[marks.length - 1] === stack.length) marks.pop();
          else if (stack.pop() === undefined) throw new Malformed();
          break;
        case 0x31: popMark(); break; // POP_MARK
        case 0x32: stack.push(top()); break; // DUP
        case 0x4e: stack.push(null); break; // NONE
        case 0x88: stack.push(true); break; // NEWTRUE
        case 0x89: stack.push(false); break; // NEWFALSE
        case 0x4a: stack.push(bytes.readInt32LE(need(4))); break; // BININT
        case 0x4b: stack.push(u8()); break; // BININT1
        case 0x4d: stack.push(u16()); break; // BININT2
        case 0x8a: stack.push(littleEndianSigned(take(u8()))); break; // LONG1
        case 0x8b: stack.push(littleEndianSigned(take(u32()))); break; // LONG4
        case 0x47: stack.push(bytes.readDoubleBE(need(8))); break; // BINFLOAT
        case 0x8c: stack.push(take(u8()).toString('utf8')); break; // SHORT_BINUNICODE
        case 0x58: stack.push(take(u32()).toString('utf8')); break; // BINUNICODE
        case 0x8d: stack.push(take(u64()).toString('utf8')); break; // BINUNICODE8
        case 0x55: stack.push(take(u8()).toString('latin1')); break; // SHORT_BINSTRING
        case 0x54: stack.push(take(u32()).toString('latin1')); break; // BINSTRING
        case 0x43: pushBuilt(Buffer.from(take(u8()))); break; // SHORT_BINBYTES
        case 0x42: pushBuilt(Buffer.from(take(u32()))); break; // BINBYTES
        case 0x8e: // BINBYTES8
        case 0x96: pushBuilt(Buffer.from(take(u64()))); break; // BYTEARRAY8
        case 0x7d: pushBuilt(Object.create(null)); break; // EMPTY_DICT
        case 0x5d: // EMPTY_LIST
        case 0x29: // EMPTY_TUPLE
        case 0x8f: pushBuilt([]); break; // EMPTY_SET
        case 0x85: pushBuilt(popItems(1)); break; // TUPLE1
        case 0x86: pushBuilt(popItems(2)); break; // TUPLE2
        case 0x87: pushBuilt(popItems(3)); break; // TUPLE3
        case 0x74: // TUPLE
        case 0x6c: // LIST
        case 0x91: pushBuilt(popMark()); break; // FROZENSET
        case 0x64: pushBuilt(setPairs(Object.create(null), popMark())); break; // DICT
        case 0x61: { // APPEND
          const [item] = popItems(1);
          listAt(top()).push(item);
          break;
        }
        case 0x65: // APPENDS
        case 0x90: { // ADDITEMS
          const items = popMark();
          const list = listAt(top());
          // One push at a time: a spread of a million items overflows the stack.
          for (const item of items) list.push(item);
          break;
        }
        case 0x73: { // SETITEM
          // The pair first: the dict is below it.
          const pair = popItems(2);
          setPairs(dictAt(top()), pair);
          break;
        }
        case 0x75: { // SETITEMS
          const items = popMark();
          if (items.length % 2 !== 0) throw new Malformed();
          setPairs(dictAt(top()), items);
          break;
        }
        case 0x94: put(memo.size); break; // MEMOIZE
        case 0x71: put(u8()); break; // BINPUT
        case 0x72: put(u32()); break; // LONG_BINPUT
        case 0x70: put(decimal(line())); break; // PUT
        case 0x68: stack.push(recall(u8())); break; // BINGET
        case 0x6a: stack.push(recall(u32())); break; // LONG_BINGET
        case 0x67: stack.push(recall(decimal(line()))); break; // GET
        default:
          if (options.objects && readObjectOpcode(op)) break;
          pos--;
          stoppedBy = `opcode 0x${op.toString(16).padStart(2, '0')}`;
          // Its operands are pieces of a value never built (the module and name of a numpy
          // scalar's STACK_GLOBAL): left on the stack, they would pair a key with a wrong value.
          dropOperands(STOP_OPERANDS.get(op) ?? 0);
          return finish();
      }
    }
  } catch (err) {
    // Anything else thrown here is a malformed input too (a bad UTF-8 length, a Buffer range).
    stoppedBy = err instanceof EndOfBytes ? 'end' : err instanceof Limit ? 'limit' : 'malformed';
    return finish();
  }

  /** The opcodes of `{ objects: true }`; false for an opcode it does not know either. */
  function readObjectOpcode(op: number): boolean {
    switch (op) {
      case 0x63: { // GLOBAL
        const module = line();
        pushBuilt(new PickleObject('global', `${module}.${line()}`));
        return true;
      }
      case 0x93: { // STACK_GLOBAL
        const [module, name] = popItems(2);
        if (typeof module !== 'string' || typeof name !== 'string') throw new Malformed();
        pushBuilt(new PickleObject('global', `${module}.${name}`));
        return true;
      }
      case 0x52: // REDUCE
      case 0x81: // NEWOBJ
        pushBuilt(construct(popItems(2)[0]));
        return true;
      case 0x92: // NEWOBJ_EX
        pushBuilt(construct(popItems(3)[0]));
        return true;
      case 0x62: // BUILD
        popItems(1);
        top();
        return true;
      case 0x51: // BINPERSID
        popItems(1);
        pushBuilt(new PickleObject('persistent', ''));
        return true;
      default:
        return false;
    }
  }

  /** Removes up to `n` items from the top of the stack, never below the innermost mark. */
  function dropOperands(n: number): void {
    const floor = marks[marks.length - 1] ?? 0;
    stack.splice(Math.max(floor, stack.length - n));
  }

  function recall(index: number): unknown {
    if (!memo.has(index)) throw new Malformed();
    return memo.get(index);
  }

  /** The result: on STOP the top of the stack; otherwise every pending mark folded into its container. */
  function finish(): PickleRead {
    const complete = stoppedBy === 'stop' && marks.length === 0 && stack.length === 1;
    if (!complete) salvage();
    const value = stack[0];
    if (!complete && typeof value === 'object' && value !== null) incomplete.add(value);
    return { value, complete, incomplete, stoppedBy: complete ? 'stop' : stoppedBy === 'stop' ? 'malformed' : stoppedBy };
  }

  /**
   * Folds each pending mark, innermost first: its items go into the list or dict just below it
   * (what APPENDS / SETITEMS would have done), or become an array of their own (what TUPLE or LIST
   * would have built). Either way the container is reported incomplete.
   */
  function salvage(): void {
    for (let m = marks.pop(); m !== undefined; m = marks.pop()) {
      const items = stack.splice(m);
      const below = stack[m - 1];
      if (Array.isArray(below)) {
        for (const item of items) below.push(item);
        incomplete.add(below);
      } else if (isPickleDict(below)) {
        setPairs(below, items.length % 2 === 0 ? items : items.slice(0, -1));
        incomplete.add(below);
      } else {
        stack.push(items);
        incomplete.add(items);
      }
    }
  }
}

/** Thrown inside the reader on bytes that are not a well-formed pickle; caught before it escapes. */
class Malformed extends Error {}

/** How many stack items an opcode the reader stops at would take (`pickletools`' stack_before). */
const STOP_OPERANDS = new Map<number, number>([
  [0x93, 2], // STACK_GLOBAL: module, qualname
  [0x52, 2], // REDUCE: callable, args
  [0x81, 2], // NEWOBJ: class, args
  [0x92, 3], // NEWOBJ_EX: class, args, kwargs
  [0x62, 2], // BUILD: object, state
  [0x51, 1], // BINPERSID: the persistent id
  [0x98, 1], // READONLY_BUFFER: the buffer
]);

/** What REDUCE / NEWOBJ of `callable` stands for: a dict for `collections.OrderedDict`, else an object. */
function construct(callable: unknown): PickleObject | PickleDict {
  if (!(callable instanceof PickleObject)) return new PickleObject('object', '?');
  return callable.name === 'collections.OrderedDict' ? Object.create(null) : new PickleObject('object', callable.name);
}

/** True for a pickled dict: the null-prototype objects the reader makes (not lists, Buffers or `PickleObject`s). */
export function isPickleDict(value: unknown): value is PickleDict {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null;
}

/** The list APPEND(S) adds to; a throwaway one for an object, whose items are not kept. */
function listAt(value: unknown): unknown[] {
  if (value instanceof PickleObject) return [];
  if (!Array.isArray(value)) throw new Malformed();
  return value;
}

/** The dict SETITEM(S) sets on; a throwaway one for an object, whose items are not kept. */
function dictAt(value: unknown): PickleDict {
  if (value instanceof PickleObject) return Object.create(null);
  if (!isPickleDict(value)) throw new Malformed();
  return value;
}

/** Sets `items` (key, value, key, value, ...) on `dict`; keys that are neither str nor int are dropped. */
function setPairs(dict: PickleDict, items: unknown[]): PickleDict {
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = items[i];
    if (typeof key === 'string') dict[key] = items[i + 1];
    else if (typeof key === 'number' || typeof key === 'bigint') dict[String(key)] = items[i + 1];
  }
  return dict;
}

/** A two's-complement little-endian integer (LONG1 / LONG4), as a number when it is safe, else a bigint. */
function littleEndianSigned(bytes: Buffer): number | bigint {
  if (bytes.length === 0) return 0;
  // One BigInt from hex, not a shift per byte (quadratic: a 1 MiB LONG4 took minutes).
  let n = BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
  if ((bytes[bytes.length - 1] as number) & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** A protocol-0 memo index (`PUT` / `GET` lines). */
function decimal(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new Malformed();
  return Number(text);
}
