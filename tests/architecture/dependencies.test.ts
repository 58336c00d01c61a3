/**
 * No declared dependency goes unused: each runtime dependency is imported by `src/`, each dev
 * dependency by the sources, tests, benchmarks or demo (an `@types/x` package counts through `x`;
 * `typescript` and `vitest` through their use as tools too).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sourceFiles(p) : /\.(ts|js|mjs)$/.test(d.name) ? [p] : [];
  });
}

/** Every bare package an import (static, dynamic, re-export) of `files` names, without subpaths. */
function importedPackages(files: string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'".][^'"]*)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('node:')) continue;
      out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return out;
}

describe('declared dependencies', () => {
  it('every runtime dependency is imported by src/', () => {
    const used = importedPackages(sourceFiles(path.join(ROOT, 'src')));
    expect(Object.keys(pkg.dependencies).filter((d) => !used.has(d))).toEqual([]);
  });

  it('every dev dependency is imported by the sources, tests, benchmarks or demo, or is a tool', () => {
    const used = importedPackages(['src', 'tests', 'bench', 'demo'].flatMap((d) => sourceFiles(path.join(ROOT, d))));
    const tools = new Set(['typescript', 'vitest', '@types/node']);
    const unused = Object.keys(pkg.devDependencies).filter((d) => {
      if (tools.has(d)) return false;
      const typed = d.startsWith('@types/') ? d.slice('@types/'.length) : null;
      return !used.has(typed ?? d);
    });
    expect(unused).toEqual([]);
  });
});
