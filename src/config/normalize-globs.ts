/**
 * Glob lists (`include`, `exclude`, `save.files`). Contract: each glob must be relative to the run
 * folder, stay inside it (no `..`), compile with picomatch and close every bracket, brace and
 * parenthesis; each that does not is reported at its index. The list comes back unchanged: globs
 * are matched as written.
 */
import path from 'node:path';
import picomatch from 'picomatch';
import type { Report } from './problems.js';
import type { KeyPath } from './yaml-positions.js';

/** Checks every glob of a list; returns the list as given. */
export function checkGlobs(globs: string[], at: KeyPath, report: Report): string[] {
  globs.forEach((g, i) => {
    if (g.trim() === '') report([...at, i], 'an empty glob matches nothing; remove it');
    else if (path.isAbsolute(g)) report([...at, i], `"${g}" must be relative to the run folder (e.g. "**/*.safetensors")`);
    else if (g.split('/').includes('..')) report([...at, i], `"${g}" cannot reach outside the run folder with ".."`);
    else {
      try {
        picomatch.makeRe(g);
      } catch (err) {
        report([...at, i], `"${g}" is not a valid glob: ${(err as Error).message}`);
      }
      if (unbalanced(g)) report([...at, i], `"${g}" has an unclosed bracket or brace`);
    }
  });
  return globs;
}

function unbalanced(glob: string): boolean {
  const pairs: Record<string, string> = { '[': ']', '{': '}', '(': ')' };
  const stack: string[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === ']' || c === '}' || c === ')') {
      if (stack.pop() !== c) return true;
    }
  }
  return stack.length > 0;
}
