/**
 * YAML the loader used to take silently or report in the YAML library's words: a second document,
 * tags ckptd does not know, merge keys, tabs, a key given twice. Each is either read as a user
 * means it (merge keys) or is a problem at its line that says what to write instead.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { formatProblem } from '../../src/util/errors.js';

const FILE = '/srv/train/ckptd.yaml';

function problems(text: string): string[] {
  const r = parseConfigText(text, FILE, '/home/ana');
  if (!('problems' in r)) throw new Error('expected problems, the config loaded');
  return r.problems.map((p) => formatProblem(p).slice(FILE.length + 1));
}

function load(text: string): Config {
  const r = parseConfigText(text, FILE, '/home/ana');
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

const RUN = 'runs:\n  - name: a\n    path: ./run\n    progress: none\n';

describe('YAML ckptd does not read silently', () => {
  it('a second document is a problem at its "---", saying to use one runs: list', () => {
    expect(problems(`${RUN}---\nruns:\n  - name: b\n    path: ./b\n`)).toEqual([
      '5:1 (yaml): a second YAML document starts here ("---"), but a config is one document; put every run in one runs: list and remove the "---" line',
    ]);
  });

  it('a "---" before the only document, or a "..." after it, is fine', () => {
    expect(load(`---\n${RUN}...\n`).runs.map((r) => r.name)).toEqual(['a']);
  });

  it('an unknown tag is a problem at the tag, not a string taken silently', () => {
    expect(problems('runs:\n  - name: a\n    path: !foo ./run\n    progress: none\n')).toEqual([
      '3:11 (yaml): unknown tag !foo: ckptd reads plain YAML values; remove the tag (quote the value if it must stay text)',
    ]);
  });

  it('a standard tag its value does not fit says so, naming the value, not "unknown tag"', () => {
    expect(problems('runs:\n  - name: a\n    path: ./run\n    settle: !!float 3\n')).toEqual([
      '4:13 (yaml): the value 3 does not fit the tag !!float (a YAML float has a "." or an exponent, e.g. 3.0): ckptd reads plain YAML values; remove the tag',
    ]);
    expect(problems('runs:\n  - {name: a, path: ./run, backup: {keep: !!int many}}\n')).toEqual([
      '2:43 (yaml): the value many does not fit the tag !!int (a YAML integer is digits, e.g. 3): ckptd reads plain YAML values; remove the tag',
    ]);
  });

  it('tabs and a key given twice are said in ckptd words; the key given twice by its key path', () => {
    expect(problems('runs:\n\t- name: a\n')).toEqual(['2:1 (yaml): this line is indented with a tab; YAML indents with spaces only: replace the tab with spaces']);
    expect(problems('runs:\n  - name: a\n    name: b\n    path: ./run\n')).toEqual([
      '3:5 runs.0.name: this key is given twice in the same mapping; keep one of them',
    ]);
    expect(problems('runs:\n  - name: a\n    path: ./a\n  - name: b\n    path: ./b\n    backup: {keep: 2, keep: 3}\n')).toEqual([
      '6:23 runs.1.backup.keep: this key is given twice in the same mapping; keep one of them',
    ]);
  });

  it('other syntax errors say the YAML does not parse, without the library\'s "at line" tail', () => {
    const [p] = problems('runs:\n  - name: "a\n');
    expect(p).toMatch(/^3:1 \(yaml\): the YAML does not parse: missing closing "quote$/);
  });
});

describe('merge keys (<<)', () => {
  it('merge a mapping into a run, keys given beside them win', () => {
    const c = load('runs:\n  - &base\n    name: a\n    path: ./a\n    progress: none\n    backup: {every: 2 hours, keep: 7}\n  - <<: *base\n    name: b\n    path: ./b\n');
    expect(c.runs.map((r) => [r.name, r.path, r.backup.keep, r.backup.everyText])).toEqual([
      ['a', '/srv/train/a', 7, '2 hours'],
      ['b', '/srv/train/b', 7, '2 hours'],
    ]);
  });

  it('a merge of something that is not a mapping is a problem at the "<<" that says what to write', () => {
    expect(problems('runs:\n  - name: a\n    path: ./a\n    <<: 3\n')).toEqual([
      '4:5 (yaml): "<<" merges a mapping into this one; write <<: *name, where &name marks a mapping (e.g. an earlier run)',
    ]);
  });
});
