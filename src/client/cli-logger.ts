/**
 * The logger of one-shot commands: everything goes to stderr (stdout is for results and `--json`);
 * progress chatter only when stderr is a terminal, warnings and errors always.
 */
import type { Logger } from '../util/logger.js';

export function createCliLogger(opts: { verbose: boolean }): Logger {
  const write = (line: string): void => void process.stderr.write(`${line}\n`);
  const logger: Logger = {
    error: (m) => write(`error: ${m}`),
    warn: (m) => write(`warning: ${m}`),
    info: (m) => (opts.verbose ? write(m) : undefined),
    debug: () => undefined,
    child: () => logger,
  };
  return logger;
}
