/**
 * Programs some tests run besides node. A missing one fails the test with an error that names it
 * and the Debian package that has it (`.ci/run` installs them), never a silent skip.
 */
import { spawnSync } from 'node:child_process';

const checked = new Set<string>();

/** Throws, naming `pkg`, unless `cmd --version` (or `probe`) runs. */
export function requireTool(cmd: string, pkg: string, probe: string[] = ['--version']): void {
  if (checked.has(cmd)) return;
  const r = spawnSync(cmd, probe, { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status}: ${r.stderr.trim()}`;
    throw new Error(`${cmd} is needed by this test but could not be run (${why}): install it with \`apt-get install -y ${pkg}\` (Debian; .ci/run does)`);
  }
  checked.add(cmd);
}
