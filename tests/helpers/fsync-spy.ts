/**
 * Which paths get fsynced: wraps `fs/promises.open` (the handle's `sync`) and `fs.openSync` +
 * `fs.fsyncSync` of this process, the objects the code under test calls through.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface FsyncSpy {
  /** Absolute paths fsynced so far, in order (files and folders). */
  readonly synced: string[];
  restore(): void;
}

export function spyFsyncs(): FsyncSpy {
  const synced: string[] = [];
  const open = fsp.open;
  const openSync = fs.openSync;
  const fsyncSync = fs.fsyncSync;
  const fds = new Map<number, string>();
  fsp.open = (async (file: fs.PathLike, ...rest: unknown[]) => {
    const fh = await (open as (...a: unknown[]) => Promise<fsp.FileHandle>)(file, ...rest);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      synced.push(path.resolve(String(file)));
      return sync();
    };
    return fh;
  }) as typeof fsp.open;
  fs.openSync = ((file: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(file, ...rest);
    fds.set(fd, path.resolve(String(file)));
    return fd;
  }) as typeof fs.openSync;
  fs.fsyncSync = ((fd: number) => {
    synced.push(fds.get(fd) ?? `fd ${fd}`);
    fsyncSync(fd);
  }) as typeof fs.fsyncSync;
  return {
    synced,
    restore() {
      fsp.open = open;
      fs.openSync = openSync;
      fs.fsyncSync = fsyncSync;
    },
  };
}
