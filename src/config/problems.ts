/**
 * The problem collection of normalizing. Contract: every check reports through a `Report`, which
 * records a problem located by key path (the loader turns it into `FILE:LINE:COL key: message`).
 * Problems are kept in the order they are reported and `load.ts` prints them in that order, so the
 * order the checks run in is part of the output. A problem never stops normalizing: each check
 * returns a fallback value so everything after it is still checked, and one run shows every problem.
 */
import type { Parsed } from './units.js';
import type { KeyPath } from './yaml-positions.js';

/** A problem found while normalizing, located by key path (the loader turns it into line:col). */
export interface PathProblem {
  keyPath: KeyPath;
  message: string;
}

/** Records one problem at a key path. */
export type Report = (keyPath: KeyPath, message: string) => void;

/** An empty collection: the problems, in the order reported, and the `Report` that adds to them. */
export function collectProblems(): { problems: PathProblem[]; report: Report } {
  const problems: PathProblem[] = [];
  const report: Report = (keyPath, message) => {
    problems.push({ keyPath, message });
  };
  return { problems, report };
}

/** The parsed value, or (reporting the parser's message at `at`) the fallback. */
export function valueOr<T, F>(parsed: Parsed<T>, at: KeyPath, report: Report, fallback: F): T | F {
  if (parsed.ok) return parsed.value;
  report(at, parsed.message);
  return fallback;
}
