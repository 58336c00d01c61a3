/**
 * Is stdout the systemd journal? systemd sets `JOURNAL_STREAM=<dev>:<ino>` for a service whose
 * stdout or stderr is connected to journald (systemd.exec(5)). The variable is inherited by
 * children whose output goes elsewhere (`ckptd daemon > file` inside a unit's shell script), so it
 * only counts when it names the very file fd 1 is: same device and inode numbers.
 */
import fs from 'node:fs';

/**
 * True when `env.JOURNAL_STREAM` names the device and inode of file descriptor `fd` (default 1).
 * False when it is unset, malformed, or names another file, or when `fd` cannot be examined.
 */
export function isJournalStream(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    // BigInt: inode numbers can exceed 2^53.
    const st = fs.fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}
