/**
 * Permission tests need a user that permissions apply to. Root reads everything, so when the tests
 * run as root (as in CI containers) the snippet runs in a child process as `nobody`; otherwise it
 * runs as the current user. The snippet is an ES module that imports the built code
 * (`DIST/...`, replaced with the absolute dist path) and prints one JSON value.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './daemon-process.js';

const NOBODY = 65534;

/** Runs `code` unprivileged after giving `ownedDirs` (recursively) to that user; returns its JSON output. */
export function runUnprivileged(code: string, ownedDirs: string[]): unknown {
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, ...ownedDirs]);
  const src = code.replaceAll('DIST/', `${path.join(ROOT, 'dist')}/`);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
    encoding: 'utf8',
    ...(root ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  if (r.status !== 0) throw new Error(`unprivileged snippet failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}
