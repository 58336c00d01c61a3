/** Lenient number reading for values trainers write: numbers, or strings that hold one. */

/**
 * `value` as a finite number: a finite number as is, or a string holding one (`"0.25"`, `" 3 "`,
 * `"1e-4"`). Anything else (booleans, empty strings, `NaN`, `Infinity`, objects) is null.
 */
export function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : null;
}

/**
 * `value` as an epoch or step count: a finite number (or numeric string) that is not negative;
 * null otherwise.
 */
export function toCount(value: unknown): number | null {
  const n = toNumber(value);
  return n !== null && n >= 0 ? n : null;
}

/** The entries of a plain object whose values read as numbers (`toNumber`); others are left out. */
export function numericEntries(obj: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isPlainObject(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    const n = toNumber(v);
    if (n !== null) out[k] = n;
  }
  return out;
}

/** True for a non-null, non-array object (what JSON and YAML mappings parse to). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
