/**
 * A full file system's message names what ran out. A store of many small files can use up the file
 * system's inodes with gigabytes still free, and ENOSPC is all the kernel says: "free some space"
 * would send people to `df -h`, which shows plenty.
 */
import { describe, expect, it } from 'vitest';
import { noSpaceMessage, type SpaceCounts } from '../../src/store/errors.js';

const GiB = 1024 ** 3;
const counts = (freeBytes: number, files: number, ffree: number): SpaceCounts => ({ bavail: freeBytes / 4096, bsize: 4096, files, ffree });
const FILE = '/s/.staging/x/files/a.json';

describe('the message of a full file system', () => {
  it.each<[string, string, SpaceCounts | null, RegExp]>([
    ['inodes gone, bytes free', 'ENOSPC', counts(4 * GiB, 393_216, 0), /^no free inodes left on the file system \(ENOSPC\) while writing \/s\/\.staging\/x\/files\/a\.json: 393216 of its 393216 inodes \(one per file or folder\) are used though 4\.29 GB is free \(`df -i` shows them\); delete files there/],
    ['a few inodes left (others freed some since)', 'ENOSPC', counts(4 * GiB, 393_216, 12), /^no free inodes left .*: 393204 of its 393216 inodes/],
    ['bytes gone, inodes free', 'ENOSPC', counts(0, 393_216, 200_000), /^no space left on the device \(ENOSPC\) while writing \/s\/\.staging\/x\/files\/a\.json; free some space and try again$/],
    ['both gone', 'ENOSPC', counts(4096, 1000, 0), /^no space left on the device \(ENOSPC\)/],
    ['a quota (EDQUOT) is about bytes or files of a user, not the file system', 'EDQUOT', counts(4 * GiB, 1000, 0), /^no space left on the device \(EDQUOT\)/],
    ['a file system that counts no inodes (files 0)', 'ENOSPC', counts(4 * GiB, 0, 0), /^no space left on the device \(ENOSPC\)/],
    ['statfs could not be asked', 'ENOSPC', null, /^no space left on the device \(ENOSPC\)/],
  ])('%s', (_why, code, c, expected) => {
    expect(noSpaceMessage(FILE, code, c)).toMatch(expected);
  });
});
