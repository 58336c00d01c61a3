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
