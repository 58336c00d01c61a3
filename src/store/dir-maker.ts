/**
 * The folders of a capture's destination: each created once, one level at a time, synchronously,
 * mode 0o755 whatever the umask; not fsynced here (the caller fsyncs `created()` once everything
 * is in place).
 */
import fs from 'node:fs';
import path from 'node:path';
import { withPath } from './errors.js';
import { DIR_MODE } from './layout.js';

/**
 * Creates folders under a root one level at a time (mode 0o755 whatever the umask), each once,
 * synchronously: two calls per folder, far fewer than per file.
 */
export class DirMaker {
  private readonly made = new Set<string>();
  constructor(private readonly root: string) {}

  make(rel: string): void {
    if (rel === '.' || rel === '' || this.made.has(rel)) return;
    this.make(path.posix.dirname(rel));
    const abs = path.join(this.root, rel);
    try {
      fs.mkdirSync(abs, { mode: DIR_MODE });
      fs.chmodSync(abs, DIR_MODE);
    } catch (err) {
      throw withPath(err, 'creating', abs);
    }
    this.made.add(rel);
  }

  /**
   * Removes the folders it created that hold nothing (deepest first), and forgets them: a folder
   * made for files that were then left out (vanished, never settled) is not part of the snapshot,
   * and `verify` would report it as extra. One rmdir each; a folder that holds anything stays.
   */
  removeEmpty(): void {
    for (const rel of this.deepestFirst()) {
      try {
        fs.rmdirSync(path.join(this.root, rel));
        this.made.delete(rel);
      } catch {
        // ENOTEMPTY: it holds files. Anything else leaves it as it was, which verify then reports.
      }
    }
  }

  /** Absolute paths of the folders created (deepest first), plus the root. */
  created(): string[] {
    return [...this.deepestFirst().map((r) => path.join(this.root, r)), this.root];
  }

  private deepestFirst(): string[] {
    return [...this.made].sort((a, b) => b.split('/').length - a.split('/').length);
  }
}
