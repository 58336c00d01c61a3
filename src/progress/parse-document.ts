/** Parsing a small JSON or YAML file that a trainer (or a person) wrote. */
import { CST, Lexer, parse as parseYaml } from 'yaml';

/**
 * The biggest text parsed as YAML (1 MiB; JSON is read up to the view's read cap). The YAML
 * library keeps about 100 bytes of heap per byte of input (an 8 MiB file took seconds and a GB).
 */
export const MAX_YAML_CHARS = 1024 * 1024;
/**
 * The deepest YAML nesting parsed: far past any trainer's file, far below what costs the library
 * a KB of heap a level (a file of millions of `[` aborted the process: heap out of memory).
 */
export const MAX_YAML_DEPTH = 100;

/**
 * The parsed content of `text`, or null when it does not parse. `relPath`'s extension picks the
 * parser: `.json` → JSON; `.yaml`/`.yml` → YAML; anything else → JSON, then YAML. JSON may hold
 * Python's bare `NaN`, `Infinity` and `-Infinity` (which `json.dumps` writes for diverged losses):
 * they read as null. YAML is parsed only up to `MAX_YAML_CHARS` and `MAX_YAML_DEPTH`: a longer or
 * deeper text reads as null. A leading byte-order mark is ignored. Never throws.
 */
export function parseDocument(text: string, relPath: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lower = relPath.toLowerCase();
  const isYaml = lower.endsWith('.yaml') || lower.endsWith('.yml');
  if (!isYaml) {
    const json = parseJson(body);
    if (json !== undefined || lower.endsWith('.json')) return json ?? null;
  }
  if (body.length > MAX_YAML_CHARS || yamlDeeperThan(body, MAX_YAML_DEPTH)) return null;
  try {
    return parseYaml(body, { uniqueKeys: false }) ?? null;
  } catch {
    return null;
  }
}

/**
 * True when YAML `text` nests deeper than `max`, from the library's own tokens, without building
 * anything: open flow collections (`[`, `{`) plus the block indicators (`-`, `?`, `:`) on the
 * current line, where `- - - x` nests. Nesting by indentation needs a line longer than its depth,
 * which `MAX_YAML_CHARS` bounds. Stops at the first token past `max`.
 */
function yamlDeeperThan(text: string, max: number): boolean {
  let flow = 0;
  let onLine = 0;
  let scalarNext = false;
  for (const token of new Lexer().lex(text)) {
    // The source of a scalar follows its marker: a plain `-` or `[` there is text.
    if (scalarNext) scalarNext = false;
    else if (token === CST.SCALAR) scalarNext = true;
    else if (token === '[' || token === '{') flow++;
    else if (token === ']' || token === '}') flow = Math.max(0, flow - 1);
    else if (token === '-' || token === '?' || token === ':') onLine++;
    else if (token === '\n' || token === '\r\n') onLine = 0;
    if (flow + onLine > max) return true;
  }
  return false;
}

/**
 * `text` parsed as JSON, accepting Python's non-standard `NaN`, `Infinity`, `-Infinity` as null;
 * undefined when it is not JSON.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    if (!/NaN|Infinity/.test(text)) return undefined;
    try {
      return JSON.parse(nonFiniteToNull(text)) as unknown;
    } catch {
      return undefined;
    }
  }
}

/**
 * Replaces bare `NaN` / `Infinity` / `-Infinity` tokens outside string literals with `null`, in one
 * pass: a regex matching string literals first rescanned to the end from every unmatched quote, so
 * a file of quotes and backslashes took hours (the daemon's thread with it).
 */
function nonFiniteToNull(text: string): string {
  const out: string[] = [];
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === 'N' && text.startsWith('NaN', i)) {
      out.push(text.slice(from, i), 'null');
      from = i + 3;
      i += 2;
    } else if (c === 'I' || (c === '-' && text[i + 1] === 'I')) {
      const len = c === '-' ? 9 : 8;
      if (!text.startsWith('Infinity', c === '-' ? i + 1 : i)) continue;
      out.push(text.slice(from, i), 'null');
      from = i + len;
      i += len - 1;
    }
  }
  out.push(text.slice(from));
  return out.join('');
}
