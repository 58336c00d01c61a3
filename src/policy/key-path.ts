/**
 * Key paths into parsed JSON/YAML, as written in a `progress: {file, epoch, step, loss}` config:
 * `state.epoch`, `log_history[-1].loss`, `a.b[0]`, `runs["my.run"].loss`, `$[-1].epoch`.
 *
 * Grammar: segments joined by `.`; a segment is a name (any characters but `.`, `[`, `]`)
 * followed by any number of `[N]` (an integer index, negative counts from the end) or
 * `["key"]` / `['key']` (a key that may hold dots). A path may start with `[...]`.
 * A name of digits (`log_history.0.loss`) also indexes an array.
 * A leading `$` names the document itself, as in JSONPath: `$[-1].epoch` is `[-1].epoch` (the
 * last element of a document that is a list, such as skorch's `history.json`), `$.state.epoch` is
 * `state.epoch` and `$` alone is the whole document. A key named `$` is written `["$"]`.
 */

/** One step of a parsed key path. */
export type KeySegment = { key: string } | { index: number };

/**
 * Parses a key path. Throws an Error naming the path and the position for a malformed one
 * (empty path or segment, unclosed bracket, a bracket holding neither an integer nor a quoted key).
 */
export function parseKeyPath(path: string): KeySegment[] {
  const segments: KeySegment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`bad key path ${JSON.stringify(path)} at ${i + 1}: ${why}`);
  };
  if (path.length === 0) fail('empty key path');
  // `expectName` is true where a name must start (path start, or after a dot).
  let expectName = true;
  if (path === '$') return segments;
  if (path.startsWith('$[')) i = 1;
  else if (path.startsWith('$.')) {
    i = 2;
    if (i === path.length) fail('path ends with "."');
  }
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) fail('"[" is never closed');
      const inner = path.slice(i + 1, close).trim();
      if (/^-?\d+$/.test(inner)) segments.push({ index: Number(inner) });
      else if (/^"[^"]*"$|^'[^']*'$/.test(inner)) segments.push({ key: inner.slice(1, -1) });
      else fail(`expected an integer index or a quoted key inside [], got ${JSON.stringify(inner)}`);
      i = close + 1;
      expectName = false;
    } else if (c === '.') {
      if (expectName) fail('empty segment');
      i++;
      expectName = true;
      if (i === path.length) fail('path ends with "."');
    } else if (c === ']') {
      fail('unexpected "]"');
    } else {
      if (!expectName) fail('expected "." or "[" before a name');
      let j = i;
      while (j < path.length && !'.[]'.includes(path[j] as string)) j++;
      segments.push({ key: path.slice(i, j) });
      i = j;
      expectName = false;
    }
  }
  return segments;
}

/**
 * The value at `path` inside `obj`, or undefined when any step is missing (a key not present, an
 * index out of range, stepping into a number or string). Negative indexes count from the end
 * (`[-1]` is the last element). Throws only for a malformed path (see `parseKeyPath`).
 */
export function getPath(obj: unknown, path: string | readonly KeySegment[]): unknown {
  const segments = typeof path === 'string' ? parseKeyPath(path) : path;
  let cur: unknown = obj;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      const index = 'index' in seg ? seg.index : /^-?\d+$/.test(seg.key) ? Number(seg.key) : null;
      if (index === null) return undefined;
      const at = index < 0 ? cur.length + index : index;
      if (at < 0 || at >= cur.length) return undefined;
      cur = cur[at];
    } else {
      const key = 'index' in seg ? String(seg.index) : seg.key;
      if (!Object.hasOwn(cur, key)) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
  }
  return cur;
}
