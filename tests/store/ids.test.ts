import { describe, expect, it } from 'vitest';
import { idTime, isValidId, isValidIdPrefix, newId } from '../../src/store/ids.js';

const T = Date.UTC(2026, 10, 22, 15, 38, 2, 123);

describe('newId', () => {
  it('encodes the UTC time and a random suffix, safe as a file name', () => {
    const id = newId(T);
    expect(id).toMatch(/^20261122-153802-123-[0-9a-f]{4}$/);
    expect(isValidId(id)).toBe(true);
    expect(idTime(id)).toBe(T);
  });

  it('sorts by creation time', () => {
    const ids = [newId(T), newId(T + 1), newId(T + 1000), newId(T + 86_400_000)];
    expect([...ids].sort()).toEqual(ids);
  });

  it('sorts after the newest id even when the clock went backwards or repeats', () => {
    const newest = newId(T);
    const back = newId(T - 60_000, newest);
    expect(back > newest).toBe(true);
    const same = newId(T, newest);
    expect(same > newest).toBe(true);
    let prev = newest;
    for (let i = 0; i < 50; i++) {
      const next = newId(T, prev);
      expect(next > prev).toBe(true);
      prev = next;
    }
  });

  it('never returns a taken id', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const id = newId(T, null, (x) => seen.has(x));
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
  });
});

describe('isValidId', () => {
  it('accepts ids and rejects hostile strings', () => {
    expect(isValidId('20261122-153802-123-a1b2')).toBe(true);
    for (const bad of ['', '..', '../x', 'a/b', '/abs', 'a\0b', 'A1', 'x.json', '-x', 'x-', 'a b', 'x'.repeat(65)]) {
      expect(isValidId(bad), bad).toBe(false);
    }
  });

  it('accepts prefixes made of id characters only', () => {
    expect(isValidIdPrefix('2026')).toBe(true);
    expect(isValidIdPrefix('20261122-')).toBe(true);
    for (const bad of ['', '.', '../', 'a/', '\0']) expect(isValidIdPrefix(bad), bad).toBe(false);
  });
});
