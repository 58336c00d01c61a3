/**
 * Maps a key path (`['runs', 0, 'backup', 'every']`) to a line and column of the YAML source, so
 * every config problem can be printed as `FILE:LINE:COL key.path: message`.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type KeyPath = readonly (string | number)[];

/** Renders a key path the way messages show it: `runs.0.backup.every`. */
export function renderKeyPath(keyPath: KeyPath): string {
  return keyPath.length === 0 ? '(top)' : keyPath.join('.');
}

/**
 * The 1-based position for a key path. With `at: 'key'` it points at the key itself (used for
 * unknown keys); otherwise at the value. When the path does not exist in the document (a missing
 * key), it points at the deepest part that does.
 */
export function positionOf(doc: Document, lines: LineCounter, keyPath: KeyPath, at: 'key' | 'value' = 'value'): { line: number; col: number } {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [index, segment] of keyPath.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      if (index === keyPath.length - 1 && at === 'key' && keyStart !== undefined) {
        offset = keyStart;
        break;
      }
      node = pair.value;
      offset = rangeStart(pair.value) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      node = item;
      offset = rangeStart(item) ?? offset;
    } else {
      break;
    }
  }
  const pos = lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
