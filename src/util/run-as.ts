/** Who ckptd runs as, for messages about permissions. */
import os from 'node:os';

/** "the user ckptd runs as (ana)"; without the name when the system has none for this uid. */
export function ckptdUser(): string {
  try {
    return `the user ckptd runs as (${os.userInfo().username})`;
  } catch {
    return 'the user ckptd runs as';
  }
}
