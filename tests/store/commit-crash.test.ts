/**
 * The commit protocol killed (SIGKILL) before each file-system call it makes: the target is the old
 * content or the new, never partial, and the next sweep leaves no temp name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { buildStore, runUntilStop } from '../helpers/store-child.js';
import { put, tempDir } from './fixtures.js';

let built: string;
beforeAll(async () => {
  built = await buildStore();
});
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

const OLD = 'old state\n';
const NEW = `${'new state '.repeat(5_000)}\n`;

/** Runs `script` killed at call 0, 1, 2, ... until it finishes; `check` after each. Returns the number of kills. */
async function killEverywhere(script: string, setup: () => Promise<string[]>, check: (stopped: string | null) => Promise<void>): Promise<number> {
  let kills = 0;
  for (let stopAt = 0; stopAt < 50; stopAt++) {
    const args = await setup();
    const { stopped } = await runUntilStop(built, script, args, stopAt);
    await check(stopped);
    if (stopped === null) return kills;
    kills++;
  }
  throw new Error('the child never finished');
}

describe('the commit protocol killed at any file-system call', () => {
  it('writeFileAtomic: the file is the old or the new content, and the sweep leaves no temp file', async () => {
    let store = '';
    const kills = await killEverywhere(
      `import { writeFileAtomic } from './src/store/durable.js';
const [file, text] = process.argv.slice(2);
await writeFileAtomic(file, text);`,
      async () => {
        store = await tempDir();
        put(store, 'state.json', OLD);
        return [path.join(store, 'state.json'), NEW];
      },
      async (stopped) => {
        const now = fs.readFileSync(path.join(store, 'state.json'), 'utf8');
        expect(now === OLD || now === NEW, `${stopped}: state.json is ${now.length} bytes`).toBe(true);
        if (stopped === null) expect(now).toBe(NEW);
        await sweepStore(store);
        expect(fs.readdirSync(store), `${stopped}`).toEqual(['state.json']);
      },
    );
    expect(kills).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['a file', false],
    ['a folder', true],
  ])('commitStaged with noReplace of %s: the target is absent or complete, and the sweep leaves no temp name', async (_label, folder) => {
    let saveTo = '';
    let store = '';
    const kills = await killEverywhere(
      `import fsp from 'node:fs/promises';
import path from 'node:path';
import { commitStaged, ensureDirDurable, fsyncDir } from './src/store/durable.js';
const [saveTo, folder, text] = process.argv.slice(2);
await ensureDirDurable(saveTo, { mode: 0o755 });
const tmp = path.join(saveTo, '.ckptd-tmp-export');
const write = async (file) => {
  const fh = await fsp.open(file, 'wx', 0o444);
  await fh.writeFile(text);
  await fh.sync();
  await fh.close();
};
if (folder === 'yes') {
  await fsp.mkdir(tmp);
  await write(path.join(tmp, 'a'));
  await write(path.join(tmp, 'b'));
  await fsyncDir(tmp);
} else await write(tmp);
await commitStaged(tmp, path.join(saveTo, 'export'), { noReplace: true });`,
      async () => {
        store = await tempDir();
        saveTo = path.join(store, 'out', 'saves');
        return [saveTo, folder ? 'yes' : 'no', NEW];
      },
      async (stopped) => {
        await sweepStore(store, [saveTo]);
        const names = fs.existsSync(saveTo) ? fs.readdirSync(saveTo) : [];
        expect(names.filter((n) => n !== 'export'), `${stopped}`).toEqual([]);
        if (stopped === null) expect(names).toEqual(['export']);
        if (!names.includes('export')) return;
        const target = path.join(saveTo, 'export');
        if (folder) for (const n of ['a', 'b']) expect(fs.readFileSync(path.join(target, n), 'utf8'), `${stopped}`).toBe(NEW);
        else expect(fs.readFileSync(target, 'utf8'), `${stopped}`).toBe(NEW);
      },
    );
    expect(kills).toBeGreaterThanOrEqual(4);
  });
});
