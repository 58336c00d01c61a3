/** Turning names found in trainer files into short, printable `model_type` text. */

/** The longest name kept; anything longer is cut (file contents are not trusted to be short). */
export const MAX_NAME_LENGTH = 120;
/** How much of a value is cleaned: a name is short, and cleaning 16 MiB of a header's value took seconds. */
export const MAX_NAME_SOURCE = 1024;

/**
 * `value` as a one-line name: its first `MAX_NAME_SOURCE` characters with control characters turned
 * into spaces, runs of whitespace collapsed, trimmed, and cut to `MAX_NAME_LENGTH` characters. Null
 * for non-strings and for strings that are empty after cleaning.
 */
export function cleanName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  const text = value.slice(0, MAX_NAME_SOURCE).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim();
  if (text === '') return null;
  return text.length > MAX_NAME_LENGTH ? `${text.slice(0, MAX_NAME_LENGTH - 1)}…` : text;
}
