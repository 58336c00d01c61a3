/**
 * Snapshot and save ids: `20261122-153802-123-a1b2` (UTC date, time, milliseconds, random hex).
 * Printable, safe as a file name, and sorted by creation time when compared as strings.
 */
import { randomBytes } from 'node:crypto';

const ID_RE = /^\d{8}-\d{6}-\d{3}-[0-9a-f]{4,}$/;
const SAFE_RE = /^[0-9a-z](?:[0-9a-z-]{0,62}[0-9a-z])?$/;
const PREFIX_RE = /^[0-9a-z-]{1,64}$/;

/**
 * A new id for the moment `now` (ms since the Unix epoch). It sorts after `newestId` (the newest id
 * the store holds, or null) even when the clock went backwards or two ids fall in the same
 * millisecond, and it is never one for which `taken(id)` is true. A `newestId` not made by
 * `newId` is ignored for ordering.
 */
export function newId(now: number, newestId: string | null = null, taken: (id: string) => boolean = () => false): string {
  let ms = Math.floor(now);
  const newestMs = newestId === null ? null : idTime(newestId);
  // Bumping past the newest keeps creation order and string order the same.
  if (newestMs !== null && ms <= newestMs) ms = newestMs + 1;
  for (;;) {
    const id = `${stamp(ms)}-${randomBytes(2).toString('hex')}`;
    if (!taken(id) && (newestMs === null || id > newestId!)) return id;
    ms += 1;
  }
}

/** True for strings that are safe as an id: `[0-9a-z-]`, 1 to 64 characters, no leading/trailing `-`. */
export function isValidId(s: string): boolean {
  return SAFE_RE.test(s);
}

/** True for strings that may be a prefix of an id (`[0-9a-z-]`, 1 to 64 characters). */
export function isValidIdPrefix(s: string): boolean {
  return PREFIX_RE.test(s);
}

/** The creation time (ms) encoded in an id made by `newId`, or null for any other string. */
export function idTime(id: string): number | null {
  if (!ID_RE.test(id)) return null;
  const t = Date.UTC(
    Number(id.slice(0, 4)),
    Number(id.slice(4, 6)) - 1,
    Number(id.slice(6, 8)),
    Number(id.slice(9, 11)),
    Number(id.slice(11, 13)),
    Number(id.slice(13, 15)),
    Number(id.slice(16, 19)),
  );
  return Number.isNaN(t) ? null : t;
}

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`
  );
}
