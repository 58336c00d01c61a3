/**
 * Whether two file times (nanoseconds, decimal strings) fall in the same microsecond, rounded to
 * the nearest. Node sets file times only to about the microsecond (`utimesSeconds`), so a file a
 * restore wrote matches its manifest's `mtime_ns` to that precision, not to the nanosecond. Pure.
 */
export function sameMicrosecond(a: string, b: string): boolean {
  const us = (ns: string): bigint => (BigInt(ns) + 500n) / 1000n;
  return us(a) === us(b);
}
