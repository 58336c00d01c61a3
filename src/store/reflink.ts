/**
 * Whether the store's file system can clone files copy-on-write (reflinks: btrfs, XFS, bcachefs,
 * ...). Copies always ask for a reflink and fall back to a real copy where there is none; this
 * probe only tells the person, once at start, which one they get.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TEMP_PREFIX } from './layout.js';

/** True when a file in `dir` can be cloned; false when not; never throws. */
export async function supportsReflink(dir: string): Promise<boolean> {
  const a = path.join(dir, `${TEMP_PREFIX}reflink-${randomBytes(4).toString('hex')}`);
  const b = `${a}-clone`;
  try {
    await fsp.writeFile(a, 'ckptd reflink probe');
    await fsp.copyFile(a, b, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await fsp.rm(a, { force: true }).catch(() => undefined);
    await fsp.rm(b, { force: true }).catch(() => undefined);
  }
}
