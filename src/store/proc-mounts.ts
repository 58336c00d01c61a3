/**
 * Which file system an open descriptor or a path is on, read from /proc alone (Linux): a
 * descriptor's `mnt_id` (and, on kernels that show it, `ino`) from `/proc/<pid>/fdinfo/<fd>`, and
 * each mount's device (`major:minor` of its file system) from a `mountinfo`. Nothing here touches
 * the file system a file is on, so a hung network or FUSE mount can never block these reads (a
 * `stat` of such a file would hold a thread of the pool until the server answers, if ever).
 *
 * Mount ids are unique across mount namespaces: a process in a container is looked up in its own
 * `/proc/<pid>/mountinfo`, where its bind mount of the run's folder shows the same device as the
 * host's mount of it.
 */
import fs from 'node:fs';

/** The fields of one descriptor's fdinfo that the open-writers scan reads. */
export interface FdInfo {
  /** The open flags (octal in the file). */
  flags: number;
  /** The id of the mount the file was opened through; null when not shown. */
  mntId: number | null;
  /** The file's inode number (shown by Linux 5.14 and later); null when not shown. */
  ino: number | null;
}

/** Parses the text of `/proc/<pid>/fdinfo/<fd>`; null without a `flags:` line. */
export function parseFdInfo(text: string): FdInfo | null {
  const flags = /^flags:\s*([0-7]+)$/m.exec(text)?.[1];
  if (flags === undefined) return null;
  const mntId = /^mnt_id:\s*(\d+)$/m.exec(text)?.[1];
  const ino = /^ino:\s*(\d+)$/m.exec(text)?.[1];
  return { flags: parseInt(flags, 8), mntId: mntId === undefined ? null : Number(mntId), ino: ino === undefined ? null : Number(ino) };
}

/** One line of a mountinfo: the mount's id, its file system's device (`major:minor`), where it is mounted. */
export interface MountLine {
  id: number;
  device: string;
  mountPoint: string;
}

/** Parses a `mountinfo` (proc(5)): lines it cannot read are left out. Mount points are unescaped (`\040` is a space). */
export function parseMountinfo(text: string): MountLine[] {
  const out: MountLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || !/^\d+$/.test(f[0]!) || !/^\d+:\d+$/.test(f[2]!)) continue;
    out.push({ id: Number(f[0]), device: f[2]!, mountPoint: f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) });
  }
  return out;
}

/**
 * The device of the file system `realPath` (absolute, symlinks resolved) is on, by the longest
 * mount point that holds it (the last such line when one is mounted over another); null when none.
 */
export function deviceOfPath(realPath: string, mounts: readonly MountLine[]): string | null {
  let best: MountLine | null = null;
  for (const m of mounts) {
    const holds = m.mountPoint === '/' || realPath === m.mountPoint || realPath.startsWith(`${m.mountPoint}/`);
    if (holds && (best === null || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best?.device ?? null;
}

/**
 * Mount id -> device, per mount namespace, read once per namespace for the life of one scan of
 * /proc (most processes share one). A process whose namespace or mountinfo cannot be read gives
 * an empty map: its descriptors are then never taken for the run's.
 */
export class MountDevices {
  private readonly byNamespace = new Map<string, Map<number, string>>();

  /** The device of mount `mntId` as process `pid` sees it; null when unknown. */
  deviceOf(pid: number, mntId: number): string | null {
    let ns: string;
    try {
      ns = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      ns = `pid:${pid}`;
    }
    let devices = this.byNamespace.get(ns);
    if (devices === undefined) {
      devices = new Map();
      try {
        for (const m of parseMountinfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'))) devices.set(m.id, m.device);
      } catch {
        // Gone meanwhile, or not ours to read: nothing known.
      }
      this.byNamespace.set(ns, devices);
    }
    return devices.get(mntId) ?? null;
  }
}

/** The device of the file system `realPath` is on, as this process's mounts show it; null when unknown. */
export function deviceOfOwnPath(realPath: string): string | null {
  try {
    return deviceOfPath(realPath, parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
  } catch {
    return null;
  }
}
