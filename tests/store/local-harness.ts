/**
 * The conformance harness of the local store: a store folder and a run folder in a temp folder,
 * a byte flipped in place (the stored file is read-only: made writable for the edit, then put
 * back), and as leftovers everything of `.staging/`, `.trash/` and every `.ckptd-tmp-*` name.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { localStore } from '../../src/store/local-store.js';
import type { RecordMeta } from '../../src/store/types.js';
import type { StoreHarness } from './conformance.js';
import { runAndStore } from './fixtures.js';

export async function localHarness(): Promise<StoreHarness> {
  const { base, run, store } = await runAndStore();
  const saveTo = path.join(base, 'exports');
  return {
    store: localStore(store),
    reopen: () => localStore(store),
    runDir: run,
    saveTo,
    corrupt: async (record: RecordMeta, relPath: string) => {
      const file = record.kind === 'save' && record.files.length === 1 ? record.path : path.join(record.path, relPath);
      const mode = fs.statSync(file).mode & 0o777;
      await fsp.chmod(file, 0o600);
      const bytes = await fsp.readFile(file);
      bytes[0] = bytes[0]! ^ 0xff;
      await fsp.writeFile(file, bytes);
      await fsp.chmod(file, mode);
    },
    leftovers: async () => {
      const ls = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).map((n) => path.join(dir, n)) : []);
      const wip = [...ls(path.join(store, '.staging')), ...ls(path.join(store, '.trash'))];
      const temps = [store, path.join(store, 'save-records'), path.join(store, 'damaged'), saveTo].flatMap(ls).filter((p) => path.basename(p).startsWith('.ckptd-tmp-'));
      return [...wip, ...temps].sort();
    },
  };
}
