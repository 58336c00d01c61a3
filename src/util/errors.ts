/**
 * The few error classes the CLI maps to exit codes (SPEC section 2):
 * 1 failed, 2 bad usage or bad config, 3 refused for safety.
 */
/** One problem found in a config file, located for `FILE:LINE:COL key.path: message`. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted key path, e.g. `runs[0].backup.every` rendered as `runs.0.backup.every`. */
  keyPath: string;
  message: string;
}

export class CkptdError extends Error {
  readonly exitCode: number = 1;
  override readonly name: string = 'CkptdError';
}

/** Bad command-line usage or arguments (exit 2). */
export class UsageError extends CkptdError {
  override readonly exitCode = 2;
  override readonly name = 'UsageError';
}

/** A config file that does not validate (exit 2). Carries every problem found. */
export class ConfigError extends CkptdError {
  override readonly exitCode = 2;
  override readonly name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

/** Refused for safety: locked, trainer still writing, confirmation missing (exit 3). */
export class SafetyError extends CkptdError {
  override readonly exitCode = 3;
  override readonly name = 'SafetyError';
}

/** `FILE:LINE:COL key.path: message`, the format `check-config` prints. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.keyPath}: ${p.message}`;
}
