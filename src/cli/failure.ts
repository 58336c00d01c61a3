/**
 * How a command that threw is reported, in one place for every command: the exit code of SPEC
 * section 2 (1 failed, 2 bad usage or bad config, 3 refused for safety), the message on stderr,
 * and, when the command line asked for `--json`, one JSON document on stdout as well:
 * `{"error": {"message": ..., "code": <exit code>, "problems": [...]}}` (`problems` only for a
 * bad config: `{file, line, col, key, message}` each), so a script that reads stdout always gets
 * one document.
 */
import { CommanderError } from 'commander';
import { CkptdError, ConfigError, formatProblem } from '../util/errors.js';
import { printJson } from './context.js';

/** A command's failure as reported: exit code, message (one or more lines), located config problems. */
export interface Failure {
  code: number;
  message: string;
  problems?: { file: string; line: number; col: number; key: string; message: string }[];
  /** commander printed the message itself (usage errors it found). */
  printed: boolean;
}

/**
 * The failure `err` stands for, or the exit code alone when it is no failure (help or the version
 * asked for: 0; help shown because no command or `help` of an unknown one was given: 2).
 */
export function failureOf(err: unknown): Failure | number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    // Help shown because no command (or `help` of no such command) was given went to stderr
    // with a non-zero code: that is bad usage; `ckptd help` asked for it (code 0).
    if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
    return { code: 2, message: err.message.replace(/^error: /, ''), printed: err.code !== 'ckptd.badNumber' };
  }
  if (err instanceof ConfigError) {
    const problems = err.problems.map((p) => ({ file: p.file, line: p.line, col: p.col, key: p.keyPath, message: p.message }));
    return { code: err.exitCode, message: err.problems.map(formatProblem).join('\n'), problems, printed: false };
  }
  if (err instanceof CkptdError) return { code: err.exitCode, message: err.message, printed: false };
  return { code: 1, message: (err as Error).message ?? String(err), printed: false };
}

/** Writes the failure: to stderr (a config's problems one per line, others as `error: ...`), and as JSON to stdout when `json`. */
export function reportFailure(f: Failure, json: boolean): void {
  if (!f.printed) process.stderr.write(f.problems ? `${f.message}\n` : `error: ${f.message}\n`);
  if (json) printJson({ error: { message: f.message, code: f.code, ...(f.problems ? { problems: f.problems } : {}) } });
}

/** Whether the command line asks for `--json` (before `--`: what follows is a trainer's command line). */
export function jsonRequested(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}
