/**
 * Keeps a long-running command alive when whatever reads its stdout or stderr goes away (`ckptd
 * daemon | tee log` and the tee killed by the same Ctrl-C, a dropped ssh session): the next write
 * fails with EPIPE, which, with no listener, ends the process. Its log lines are lost from then on;
 * its backups, and its supervision of a trainer, are not.
 */

/** Ignores write errors of stdout and stderr until the returned function is called. */
export function surviveLostOutput(): () => void {
  const ignore = (): void => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  return () => {
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  };
}
