/**
 * Permission tests need a process that permission bits apply to. Root reads everything through its
 * capabilities, so when the tests run as root (as in CI containers) the code under test runs in a
 * child that stays uid 0 (it can still reach the checkout, even one under /root, 0700) but has lost
 * CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER, by `setpriv` (util-linux): a file of mode
 * 0 is then unreadable to it, also one root owns. Otherwise it runs as the current user.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './daemon-process.js';
import { requireTool } from './tools.js';

const DAC_CAPS = '-dac_override,-dac_read_search,-fowner';

/**
 * The command prefix (for `startDaemon`/`runCli`'s `wrap`) that runs a command without the
 * capabilities that bypass permission bits: `setpriv ... --` as root, `[]` for any other user.
 * Throws, naming the tool and how to install it, when setpriv is missing.
 */
export function withoutDacCapabilities(): string[] {
  if (process.getuid?.() !== 0) return [];
  requireTool('setpriv', 'util-linux');
  return ['setpriv', `--inh-caps=${DAC_CAPS}`, `--bounding-set=${DAC_CAPS}`, '--'];
}

/** Runs `code` (an ES module snippet that imports `DIST/...` and prints one JSON value) unprivileged; returns its JSON output. */
export function runUnprivileged(code: string): unknown {
  const src = code.replaceAll('DIST/', `${path.join(ROOT, 'dist')}/`);
  const [cmd, ...args] = [...withoutDacCapabilities(), process.execPath, '--input-type=module', '-e', src];
  const r = spawnSync(cmd!, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unprivileged snippet failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}
