/**
 * The Version panel's page: plain HTML, CSS and JavaScript modules in the package's top-level `ui/`
 * folder (shipped as is: tsc does not copy them, and the browser needs no build step). They are read
 * once at start and served from memory by exact name, so no request path ever reaches the disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The `ui/` folder: the nearest one beside a `package.json`, walking up from this module (which
 * runs from `src/ui/` under vitest and from `dist/src/ui/` when built). Throws when none is found.
 */
export function findUiDir(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'ui', 'index.html'))) return path.join(dir, 'ui');
    if (path.dirname(dir) === dir) throw new Error(`the Version panel's files (ui/index.html) were not found above ${from}`);
  }
}

/**
 * Every servable file under `dir` (HTML, CSS, JS, SVG), keyed by its URL path: `index.html` is `/`,
 * the rest `/assets/<relative path>`.
 */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(r);
      const type = TYPES[path.extname(entry.name)];
      if (!entry.isFile() || type === undefined) continue;
      assets.set(r === 'index.html' ? '/' : `/assets/${r}`, { body: fs.readFileSync(path.join(dir, r)), type });
    }
  };
  walk('');
  if (!assets.has('/')) throw new Error(`${dir} has no index.html`);
  return assets;
}
