/**
 * The permission bits a stored file gets: a snapshot is read-only yet no more readable than the
 * run's file was.
 */

/** The mode of a stored copy of a source with permission bits `mode`: its read and execute bits, never a write bit. */
export function storedMode(mode: number): number {
  return mode & 0o555;
}
