/**
 * Keeps a long-running command alive when whatever reads its stdout or stderr goes away (`ckptd
 * daemon | tee log` and the tee killed by the same Ctrl-C, a dropped ssh session): the next write
 * fails with EPIPE, which, with no listener, ends the process. Its log lines are lost from then on;
 * its backups, and its supervision of a trainer, are not.
 */

/** Set once a command's output is its log (`surviveLostOutput`): see `outputFailure`. */
let outputIsLog = false;

/**
 * Ignores write errors of stdout and stderr until the returned function is called; from then on,
 * a failed write is no failure of the command (`outputFailure`).
 */
export function surviveLostOutput(): () => void {
  outputIsLog = true;
  const ignore = (): void => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  return () => {
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  };
}

/**
 * What made stdout's writes fail (`err`: what its last write reported), when that fails the
 * command: its output is what a script reads (`ckptd list --json > state.json` on a full disk), so
 * an exit 0 would hand it an empty or cut file as the answer. Null when nothing failed, when the
 * reader went away (EPIPE: `ckptd list --json | head -1` just ends), and for a command whose
 * output is its log (`surviveLostOutput`: `ckptd run` exits with its trainer's code).
 */
export function outputFailure(err: Error | null | undefined): Error | null {
  if (err === null || err === undefined || outputIsLog) return null;
  // After a first error the stream is destroyed: later writes report that, the stream keeps the cause.
  const cause = process.stdout.errored ?? err;
  return (cause as NodeJS.ErrnoException).code === 'EPIPE' ? null : cause;
}
