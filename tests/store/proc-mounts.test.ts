/**
 * The open-writers scan learns which file system a descriptor is on from /proc alone (fdinfo's
 * `mnt_id`, the process's mountinfo) and stats only descriptors on the run's own file system: a
 * stat of a file on a hung network or FUSE mount would hold a thread of the pool, and each later
 * look another, until the daemon's file calls all waited.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchByInode, type InodeLookups, type Unmatched } from '../../src/store/open-writers.js';
import { deviceOfOwnPath, deviceOfPath, parseFdInfo, parseMountinfo } from '../../src/store/proc-mounts.js';
import { put, tempDir } from './fixtures.js';

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '40 27 0:45 / /mnt/nfs rw - nfs4 server:/export rw',
  '41 27 254:0 /home/me/runs /mnt/my\\040runs rw - ext4 /dev/vda rw',
  'garbage line',
].join('\n');

describe('reading /proc', () => {
  it('parses an fdinfo with and without the inode line', () => {
    expect(parseFdInfo('pos:\t0\nflags:\t0100001\nmnt_id:\t27\nino:\t9014285\n')).toEqual({ flags: 0o100001, mntId: 27, ino: 9014285 });
    expect(parseFdInfo('pos:\t0\nflags:\t02\nmnt_id:\t40\n')).toEqual({ flags: 0o2, mntId: 40, ino: null });
    expect(parseFdInfo('pos:\t0\n')).toBeNull();
  });

  it('parses a mountinfo (an escaped space in a mount point) and finds the file system of a path by its longest mount point', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    expect(mounts.map((m) => [m.id, m.device, m.mountPoint])).toEqual([
      [22, '0:21', '/proc'],
      [27, '254:0', '/'],
      [40, '0:45', '/mnt/nfs'],
      [41, '254:0', '/mnt/my runs'],
    ]);
    expect(deviceOfPath('/mnt/nfs/data/x.bin', mounts)).toBe('0:45');
    expect(deviceOfPath('/mnt/nfsother/x.bin', mounts)).toBe('254:0');
    expect(deviceOfPath('/mnt/my runs/a', mounts)).toBe('254:0');
    expect(deviceOfPath('/', mounts)).toBe('254:0');
  });

  it("finds the file system of this process's own folders", async () => {
    const dir = fs.realpathSync(await tempDir());
    expect(deviceOfOwnPath(dir)).toMatch(/^\d+:\d+$/);
  });
});

describe('matching writers by inode', () => {
  /** A run with one file, and lookups where the run is on device 254:0, mount 27, and mount 40 is an NFS mount. */
  async function world(): Promise<{ dir: string; ino: number; io: InodeLookups; statted: string[] }> {
    const dir = fs.realpathSync(await tempDir());
    const ino = fs.statSync(put(dir, 'model.bin', 'x')).ino;
    const statted: string[] = [];
    const io: InodeLookups = {
      runDevice: () => '254:0',
      deviceOf: (_pid, mntId) => ({ 27: '254:0', 40: '0:45' })[mntId] ?? null,
      statFd: async (pid, fd) => {
        statted.push(`${pid}/${fd}`);
        return fs.statSync(path.join(dir, 'model.bin'));
      },
    };
    return { dir, ino, io, statted };
  }
  const writer = (fd: string, mntId: number | null, ino: number | null): Unmatched => ({ pid: 4242, fd, command: 'python', target: `/workspace/${fd}.bin`, mntId, ino });

  it('never stats a descriptor on another file system, even one with the inode of a run file', async () => {
    const { dir, ino, io, statted } = await world();
    const found = await matchByInode([writer('7', 40, ino), writer('8', 40, null), writer('9', null, null)], { dir, files: [{ path: 'model.bin', type: 'file', ino }] }, io);
    expect(found).toEqual([]);
    expect(statted).toEqual([]);
  });

  it("takes the inode from the fdinfo when the kernel shows it, and stats only a descriptor on the run's file system that lacks it", async () => {
    const { dir, ino, io, statted } = await world();
    const files = [{ path: 'model.bin', type: 'file' as const, ino }];
    expect((await matchByInode([writer('7', 27, ino)], { dir, files }, io)).map((w) => [w.path, w.seenAs])).toEqual([[path.join(dir, 'model.bin'), '/workspace/7.bin']]);
    expect(statted).toEqual([]);
    expect((await matchByInode([writer('8', 27, null)], { dir, files }, io)).map((w) => w.seenAs)).toEqual(['/workspace/8.bin']);
    expect(statted).toEqual(['4242/8']);
  });

  it('matches nothing when the file system of the run is unknown', async () => {
    const { dir, ino, io, statted } = await world();
    expect(await matchByInode([writer('7', 27, ino), writer('8', 27, null)], { dir, files: [{ path: 'model.bin', type: 'file', ino }] }, { ...io, runDevice: () => null })).toEqual([]);
    expect(statted).toEqual([]);
  });
});
