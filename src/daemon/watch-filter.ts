/**
 * Which of the watcher's events count as the trainer at work for one run.
 *
 * Contract: `activityPathOf(run)` returns a function from an event's absolute path to the path
 * relative to the run folder ('/'-separated; '' for the run folder itself and for paths outside
 * it), or null when the event does not count: a path the person excluded (logs, event files) or
 * a file no include glob matches. Folders (names without an extension) always count: a
 * `checkpoint-500` folder appearing matters though only files match include globs. Temp files
 * ckptd never stores still count. Pure apart from compiling the globs once.
 */
import path from 'node:path';
import picomatch from 'picomatch';
import type { RunConfig } from '../config/types.js';
import { isInside } from '../util/paths.js';

export function activityPathOf(run: RunConfig): (abs: string) => string | null {
  const userExcluded = picomatch(run.exclude.length > 0 ? run.exclude : ['\0'], { dot: true });
  const included = picomatch(run.include, { dot: true });
  return (abs) => {
    const inside = isInside(abs, run.path);
    const rel = inside ? path.relative(run.path, abs).split(path.sep).join('/') : '';
    if (rel !== '' && (userExcluded(rel) || !includedOrDir(included, rel))) return null;
    return rel;
  };
}

function includedOrDir(included: (p: string) => boolean, rel: string): boolean {
  // Folder events (`checkpoint-500` appearing) matter even though only files match include globs.
  return included(rel) || !path.posix.extname(rel);
}
