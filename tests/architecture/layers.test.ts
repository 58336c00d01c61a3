/**
 * The layers point one way (docs/ARCHITECTURE.md): each folder of `src/` may import only from the
 * folders listed for it. A new import against the direction fails here, naming the file and the
 * import, and the pure core (`src/policy`) stays free of the file system, the clock and timers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon-process.js';

const SRC = path.join(ROOT, 'src');

/** What each layer may import, lowest first; a layer always may import itself. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  policy: [],
  util: ['policy'],
  config: ['policy', 'util'],
  progress: ['config', 'policy', 'util'],
  store: ['progress', 'config', 'policy', 'util'],
  service: ['config', 'policy', 'util'],
  ops: ['store', 'service', 'progress', 'config', 'policy', 'util'],
  daemon: ['ops', 'store', 'service', 'progress', 'config', 'policy', 'util'],
  client: ['daemon', 'ops', 'store', 'service', 'progress', 'config', 'policy', 'util'],
  ui: ['client', 'daemon', 'ops', 'store', 'service', 'progress', 'config', 'policy', 'util'],
  cli: ['ui', 'client', 'daemon', 'ops', 'store', 'service', 'progress', 'config', 'policy', 'util'],
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sourceFiles(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import (static, dynamic, re-export) of a source file, as written. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
}

/** Every import of a file under `src` that its layer may not make, for people. */
function wrongImports(src: string): string[] {
  const layerOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!;
  const wrong: string[] = [];
  for (const file of sourceFiles(src)) {
    const from = layerOf(file);
    for (const spec of importsOf(file)) {
      const to = layerOf(path.resolve(path.dirname(file), spec));
      if (to !== from && !(MAY_IMPORT[from] ?? []).includes(to)) wrong.push(`${path.relative(src, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  return wrong;
}

describe('layers', () => {
  const files = sourceFiles(SRC);
  const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;

  it('every folder of src/ is a known layer', () => {
    const layers = new Set(files.map(layerOf));
    expect([...layers].filter((l) => !(l in MAY_IMPORT))).toEqual([]);
  });

  it('no import points against the direction', () => {
    expect(wrongImports(SRC)).toEqual([]);
  });

  it('the check names an import against the direction (static, dynamic or re-export)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-layers-'));
    try {
      fs.mkdirSync(path.join(tmp, 'store'));
      fs.mkdirSync(path.join(tmp, 'daemon'));
      fs.writeFileSync(path.join(tmp, 'daemon', 'd.ts'), "import { x } from '../store/s.js';\nexport const y = x;\n");
      fs.writeFileSync(path.join(tmp, 'store', 's.ts'), "export const x = 1;\nexport { y } from '../daemon/d.js';\nconst z = import('../daemon/d.js');\n");
      expect(wrongImports(tmp)).toEqual(['store/s.ts (store) imports ../daemon/d.js (daemon)', 'store/s.ts (store) imports ../daemon/d.js (daemon)']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the policy core touches no file system, clock, timer or process', () => {
    const impure: string[] = [];
    for (const file of files.filter((f) => layerOf(f) === 'policy')) {
      const text = fs.readFileSync(file, 'utf8');
      for (const bad of [/from ['"]node:/, /from ['"](fs|fs-extra|chokidar|winston)['"]/, /\bDate\.now\(/, /\bnew Date\(\)/, /\bset(Timeout|Interval)\(/, /\bprocess\.[a-zA-Z]/]) {
        if (bad.test(text)) impure.push(`${path.relative(ROOT, file)}: ${bad.source}`);
      }
    }
    expect(impure).toEqual([]);
  });
});
