/** The descendants of a process in a process table: what a signal to `ckptd run` reaches. */
import { describe, expect, it } from 'vitest';
import { descendantsIn } from '../../src/util/proc-tree.js';

const table = (edges: [pid: number, ppid: number][]): Map<number, { ppid: number }> => new Map(edges.map(([pid, ppid]) => [pid, { ppid }]));

describe('descendantsIn', () => {
  // 1 init; 10 ckptd's parent; 20 ckptd; 30 sh (CMD); 40 trainer; 41, 42 its workers; 43 a worker's child; 50 unrelated.
  const t = table([[1, 0], [10, 1], [20, 10], [30, 20], [40, 30], [41, 40], [42, 40], [43, 41], [50, 1]]);
  it('finds children, grandchildren and deeper, never the parents, siblings or the root itself', () => {
    expect(descendantsIn(t, [30]).sort()).toEqual([40, 41, 42, 43]);
    expect(descendantsIn(t, [43])).toEqual([]);
  });
  it('follows several roots (a trainer handed to init after its wrapper died) without repeating one', () => {
    const orphaned = table([[1, 0], [40, 1], [41, 40], [60, 1], [61, 60], [50, 1]]);
    expect(descendantsIn(orphaned, [40, 60]).sort()).toEqual([41, 61]);
    expect(descendantsIn(t, [30, 40]).sort()).toEqual([41, 42, 43]);
  });
  it('finds nothing for a pid the table does not hold', () => {
    expect(descendantsIn(t, [999])).toEqual([]);
  });
});
