/**
 * The files a process has mapped shared and writable (`/proc/<pid>/maps`, perms `rw-s`): it can
 * write them through memory with no descriptor open (native code that maps a file and closes
 * it), and writes to pages already dirty move neither the
 * mtime nor the ctime until the kernel writes them back, half a minute later. Such a file is being
 * written as surely as one open for writing (`open-writers.ts`).
 */
import fs from 'node:fs';

/** One shared writable mapping of a file: the path the process sees, its device (decimal `major:minor`, as mountinfo writes it) and inode. */
export interface SharedMapping {
  target: string;
  dev: string;
  ino: number;
}

/** The files `pid` maps shared and writable, each once; [] when its maps cannot be read. */
export function sharedWritableMappings(pid: string): SharedMapping[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return [];
  }
  return parseSharedWritable(text);
}

/**
 * The shared writable file mappings of a `maps` text. A line: `start-end perms offset dev inode
 * path`, perms like `rw-s`; dev in hex (`fd:01`); anonymous ones have inode 0 and no `/` path.
 */
export function parseSharedWritable(text: string): SharedMapping[] {
  const out = new Map<string, SharedMapping>();
  for (let at = 0; at < text.length; ) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end === -1 ? text.length : end);
    at = end === -1 ? text.length : end + 1;
    const sp = line.indexOf(' ');
    if (sp === -1 || line[sp + 2] !== 'w' || line[sp + 4] !== 's') continue;
    const fields = line.slice(sp + 6).trimStart().split(/ +/);
    // offset, dev, inode, then the path (which may hold spaces).
    const [, dev, inode] = fields;
    const slash = line.indexOf('/', sp);
    if (dev === undefined || inode === undefined || slash === -1) continue;
    const ino = Number(inode);
    const [major, minor] = dev.split(':').map((h) => parseInt(h, 16));
    if (!Number.isSafeInteger(ino) || ino === 0 || major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    const target = line.slice(slash);
    out.set(`${dev} ${ino} ${target}`, { target, dev: `${major}:${minor}`, ino });
  }
  return [...out.values()];
}
