/**
 * Counting the inodes of a snapshot's tree: what a new one would create (`whatItTakes`) and what
 * removing a stored one frees besides its files (`ownInodesOf`, for retention when a file system is
 * short of inodes). Both count a folder once however many files it holds.
 */

/**
 * Inodes a snapshot takes besides its files' and folders': its own folder, `files/`,
 * `snapshot.json`, a staging name or two (an upper bound for one being made).
 */
export const SNAPSHOT_OWN_INODES = 8;

/**
 * The distinct folders above the relative file paths `add`ed (`a/b/c.bin` counts `a` and `a/b`),
 * each counted once. Paths in path order cost one comparison each: a folder's files come together.
 */
export class FolderCount {
  private readonly folders = new Set<string>();
  private lastDir = '';

  add(rel: string): void {
    const cut = rel.lastIndexOf('/');
    for (let dir = cut < 0 ? '' : rel.slice(0, cut); dir !== '' && dir !== this.lastDir && !this.folders.has(dir); ) {
      this.folders.add(dir);
      const up = dir.lastIndexOf('/');
      dir = up < 0 ? '' : dir.slice(0, up);
    }
    this.lastDir = cut < 0 ? '' : rel.slice(0, cut);
  }

  get size(): number {
    return this.folders.size;
  }
}

/**
 * The inodes removing a stored snapshot with manifest `files` frees besides its stored files (which
 * retention counts by their link counts): its folders, its symlinks, its own folder and `files/`.
 * `snapshot.json` is one of its stored files.
 */
export function ownInodesOf(files: readonly { path: string; type?: string }[]): number {
  const folders = new FolderCount();
  let symlinks = 0;
  for (const f of files) {
    folders.add(f.path);
    if (f.type === 'symlink') symlinks++;
  }
  return 2 + folders.size + symlinks;
}
