/** Parsing a small JSON or YAML file that a trainer (or a person) wrote. */
import { parse as parseYaml } from 'yaml';

/**
 * The parsed content of `text`, or null when it does not parse. `relPath`'s extension picks the
 * parser: `.json` → JSON; `.yaml`/`.yml` → YAML; anything else → JSON, then YAML. JSON may hold
 * Python's bare `NaN`, `Infinity` and `-Infinity` (which `json.dumps` writes for diverged losses):
 * they read as null. A leading byte-order mark is ignored. Never throws.
 */
export function parseDocument(text: string, relPath: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lower = relPath.toLowerCase();
  const isYaml = lower.endsWith('.yaml') || lower.endsWith('.yml');
  if (!isYaml) {
    const json = parseJson(body);
    if (json !== undefined || lower.endsWith('.json')) return json ?? null;
  }
  try {
    return parseYaml(body, { uniqueKeys: false }) ?? null;
  } catch {
    return null;
  }
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

/** Replaces bare `NaN` / `Infinity` / `-Infinity` tokens outside string literals with `null`. */
function nonFiniteToNull(text: string): string {
  // String literals are matched first so that tokens inside them are left alone.
  return text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) => (m.startsWith('"') ? m : 'null'));
}
