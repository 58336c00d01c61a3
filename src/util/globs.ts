/**
 * Glob matching of a run's relative POSIX paths: picomatch with dot files included, where a line
 * break in a name is a character like any other.
 *
 * picomatch compiles `**` with `.`, which matches no line break (\n, \r, U+2028, U+2029): a folder
 * whose name held one was not crossed by `**`, and its files were neither captured nor listed as
 * left out. Paths and globs alike have each line break replaced by U+FFFF (a noncharacter) before
 * matching, so a glob that names a line break still matches it, and `*`, `?` and `**` match it.
 */
import picomatch from 'picomatch';

const LINE_BREAK = /[\n\r\u2028\u2029]/g;
/** Not global: `test` keeps no state between calls. */
const HAS_LINE_BREAK = /[\n\r\u2028\u2029]/;
const STAND_IN = '\uffff';

/** A matcher of relative POSIX paths by `globs` (any of them); none matches nothing. */
export function globMatcher(globs: readonly string[]): (rel: string) => boolean {
  if (globs.length === 0) return () => false;
  const match = picomatch(globs.map((g) => g.replace(LINE_BREAK, STAND_IN)), { dot: true });
  return (rel) => match(HAS_LINE_BREAK.test(rel) ? rel.replace(LINE_BREAK, STAND_IN) : rel);
}
