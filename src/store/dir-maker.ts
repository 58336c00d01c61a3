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

  /** Absolute paths of the folders created (deepest first), plus the root. */
  created(): string[] {
    const rels = [...this.made].sort((a, b) => b.split('/').length - a.split('/').length);
    return [...rels.map((r) => path.join(this.root, r)), this.root];
  }
}
