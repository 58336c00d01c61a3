/**
 * A "billion laughs" config: nine levels of ten aliases each, 10^9 strings once expanded. Its first
 * alias (`*a`) is at line 4, column 14.
 */
export const ALIAS_BOMB = [
  'runs:',
  '  - name: a',
  '    path: &a r',
  ...Array.from({ length: 9 }, (_, i) => `    x${i}: &l${i} [${Array<string>(10).fill(i === 0 ? '*a' : `*l${i - 1}`).join(', ')}]`),
  '',
].join('\n');
