/**
 * Config text → one YAML document and its plain data, or what is wrong with it in ckptd's words.
 * Contract: the text must be exactly one YAML document of plain values. Syntax errors, a second
 * document, tags ckptd does not know and standard tags their value does not fit (`!!float 3`;
 * the YAML library only warns about both, and would read the value as text), a merge (`<<`) of
 * something that is not a mapping and too many alias expansions are problems, each at the offset
 * where it starts. Merge keys (`<<: *name`) are read as YAML 1.1
 * defines them: the keys of the named mapping, below the keys written beside them.
 */
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import type { KeyPath } from './yaml-positions.js';

/**
 * How many alias expansions (`*name`) a config may make in all. A config shares a few values
 * through aliases; a "billion laughs" nests them to expand exponentially and would exhaust memory.
 */
export const MAX_ALIAS_EXPANSIONS = 1000;

/** A problem of the YAML itself, at an offset of the text. */
export interface YamlProblem {
  offset: number;
  message: string;
  /** The key the problem is about, when there is one (a key given twice). */
  keyPath?: KeyPath;
}

/** The parsed document (for positions), its line counter and its plain data; or its problems. */
export type YamlRead = { doc: Document; lines: LineCounter; data: unknown } | { lines: LineCounter; problems: YamlProblem[] };

/** Reads `text` as one YAML document (see the module's contract). */
export function readYaml(text: string): YamlRead {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const problems = [
    ...doc.errors.map((e) => ({ offset: e.pos[0], message: errorMessage(e), ...duplicateKeyPath(doc, e) })),
    ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED').map((w) => ({ offset: w.pos[0], message: tagProblem(doc, text.slice(w.pos[0], w.pos[1]), w.pos[1]) })),
  ];
  if (problems.length > 0) return { lines, problems: problems.sort((a, b) => a.offset - b.offset) };
  const expanded = toData(doc);
  return 'problem' in expanded ? { lines, problems: [expanded.problem] } : { doc, lines, data: expanded.data };
}

/** The library's error, said in ckptd's words for the ones a person makes most. */
function errorMessage(e: YAMLError): string {
  switch (e.code) {
    case 'MULTIPLE_DOCS':
      return 'a second YAML document starts here ("---"), but a config is one document; put every run in one runs: list and remove the "---" line';
    case 'TAB_AS_INDENT':
      return 'this line is indented with a tab; YAML indents with spaces only: replace the tab with spaces';
    case 'DUPLICATE_KEY':
      return 'this key is given twice in the same mapping; keep one of them';
    default: {
      const text = e.message.split('\n')[0]!;
      return `the YAML does not parse: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
    }
  }
}

/** `{keyPath}` of the key a DUPLICATE_KEY error points at (`runs.0.path`), else `{}`. */
function duplicateKeyPath(doc: Document, e: YAMLError): { keyPath?: KeyPath } {
  if (e.code !== 'DUPLICATE_KEY') return {};
  let found: KeyPath | undefined;
  visit(doc, {
    Pair(_key, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== e.pos[0]) return undefined;
      const nodes = [...ancestors, pair];
      found = nodes.flatMap((n, i): (string | number)[] => {
        if (isPair(n)) return [String(isScalar(n.key) ? n.key.value : n.key)];
        return isSeq(n) ? [n.items.indexOf(nodes[i + 1] as never)] : [];
      });
      return visit.BREAK;
    },
  });
  return found === undefined ? {} : { keyPath: found };
}

/** How the values of YAML's standard scalar tags are written, for a value that does not fit one. */
const STANDARD_TAG_HINTS: Readonly<Record<string, string>> = {
  '!!float': 'a YAML float has a "." or an exponent, e.g. 3.0',
  '!!int': 'a YAML integer is digits, e.g. 3',
  '!!bool': 'a YAML bool is true or false',
  '!!null': 'a YAML null is null or ~',
};

/**
 * The problem of a tag the library could not resolve: one of YAML's standard tags (`!!float`)
 * whose value (the first tagged scalar at or after `end`, where the tag ends) does not fit it,
 * or a tag ckptd does not know.
 */
function tagProblem(doc: Document, tag: string, end: number): string {
  const hint = STANDARD_TAG_HINTS[tag];
  if (hint === undefined) return `unknown tag ${tag}: ckptd reads plain YAML values; remove the tag (quote the value if it must stay text)`;
  let value: string | null = null;
  visit(doc, {
    Scalar(_key, node) {
      if (node.tag === undefined || !node.range || node.range[0] < end) return undefined;
      value = String(node.source ?? node.value);
      return visit.BREAK;
    },
  });
  return `the value ${value ?? ''} does not fit the tag ${tag} (${hint}): ckptd reads plain YAML values; remove the tag`;
}

/**
 * The document as plain data, or why it cannot be: a merge of a value that is not a mapping
 * (located at the first `<<`), too many alias expansions or another resolution error (located at
 * the first alias).
 */
function toData(doc: Document): { data: unknown } | { problem: YamlProblem } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS }) as unknown };
  } catch (err) {
    const message = (err as Error).message;
    if (/merge sources/i.test(message)) {
      return { problem: { offset: firstOffset(doc, 'merge'), message: '"<<" merges a mapping into this one; write <<: *name, where &name marks a mapping (e.g. an earlier run)' } };
    }
    const why = /alias count/i.test(message)
      ? `too many alias expansions (over ${MAX_ALIAS_EXPANSIONS}): the aliases (*name) nest so deep the file would expand to a huge value; write the values out or use fewer nested aliases`
      : `cannot resolve the YAML: ${message.split('\n')[0]!}`;
    return { problem: { offset: firstOffset(doc, 'alias'), message: why } };
  }
}

/** Where the document's first merge key (`<<`) or first alias (`*name`) starts; 0 when it has none. */
function firstOffset(doc: Document, what: 'merge' | 'alias'): number {
  let offset = 0;
  visit(doc, {
    Pair(_key, pair) {
      if (what !== 'merge' || !isScalar(pair.key) || typeof pair.key.value !== 'symbol') return undefined;
      offset = pair.key.range?.[0] ?? 0;
      return visit.BREAK;
    },
    Alias(_key, node) {
      if (what !== 'alias') return undefined;
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}
