/**
 * Path containment, one definition for the whole daemon. Containment is decided on the text of the
 * paths (no symlink is followed: callers that care resolve real paths first).
 */
import path from 'node:path';

/**
 * True when `child` is `parent` itself or lies anywhere under it. Both are resolved first
 * (`path.resolve`: relative ones against the working folder, `.`/`..` segments and trailing
 * separators removed), so `/a/` contains `/a/b`, `/a` contains `/a`, `/` contains everything,
 * and `/ab` and `/a/../b` are not inside `/a`. A name that merely starts with dots (`/a/..x`) is
 * inside. For "strictly inside", also check that the resolved paths differ.
 */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * `isInside` for the relative POSIX paths of files listed inside a run (`a/b.json`): true when
 * `rel` is `dir` or lies under it, `.` (or `''`) being the run folder itself. Both must already be
 * normalized (no `.`/`..` segments, as the scan lists them); a trailing `/` on `dir` is ignored.
 */
export function isInsideRel(rel: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  if (d === '' || d === '.') return true;
  return rel === d || rel.startsWith(`${d}/`);
}

/**
 * A function giving `path.join(base, rel)` for the relative paths of a scan, without normalizing
 * the whole string again for each one (`path.join` costs ~2 us; a capture of 100,000 files joins
 * each path three to five times). `base` is joined once; a `rel` that is plain (not empty, no
 * leading or trailing `/`, no `//`, no `.` or `..` segment, as every scan lists them) is appended
 * with one `/`, any other goes through `path.join`: the result is always `path.join(base, rel)`.
 */
export function joinerUnder(base: string): (rel: string) => string {
  const root = path.join(base);
  // A relative base ('.', 'a/..') would lose or keep its `./` unlike `path.join`: always joined.
  if (!path.isAbsolute(root)) return (rel) => path.join(base, rel);
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return (rel) => (isPlainRel(rel) ? prefix + rel : path.join(base, rel));
}

/**
 * A relative POSIX path `path.join` leaves as it is: no empty, `.` or `..` segment, no leading or
 * trailing `/`. Stricter than needed (a segment starting with `.` fails: `.hidden` is joined by
 * `path.join`, to the same result), in six checks.
 */
function isPlainRel(rel: string): boolean {
  return rel !== '' && !rel.startsWith('/') && !rel.startsWith('.') && !rel.endsWith('/') && !rel.includes('//') && !rel.includes('/.');
}

/**
 * The indexes of `items` (relative POSIX paths of a scan) by the folder that holds each (`''` for
 * the run folder itself), in the order of each folder's first item, each folder's in item order.
 */
export function indexesByFolder(items: readonly { path: string }[]): Map<string, number[]> {
  const folders = new Map<string, number[]>();
  items.forEach((item, i) => {
    const cut = item.path.lastIndexOf('/');
    const dir = cut < 0 ? '' : item.path.slice(0, cut);
    let list = folders.get(dir);
    if (list === undefined) folders.set(dir, (list = []));
    list.push(i);
  });
  return folders;
}
