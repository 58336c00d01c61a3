/** `RunFolderPlace`: a run folder swapped for a link elsewhere is caught; deliberate places are not. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunFolderMovedError, RunFolderPlace } from '../../src/daemon/run-folder-place.js';
import { tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function dirs(): { run: string; real: string; other: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const real = fs.realpathSync(t.dir);
  fs.mkdirSync(path.join(real, 'run'));
  fs.mkdirSync(path.join(real, 'other'));
  return { run: path.join(real, 'run'), real, other: path.join(real, 'other') };
}

describe('RunFolderPlace', () => {
  it('throws, naming both places, once the folder is swapped for a link elsewhere; passes once it is back', async () => {
    const { run, other } = dirs();
    const place = new RunFolderPlace();
    await place.record(run);
    await place.check(run);
    fs.renameSync(run, `${run}.real`);
    fs.symlinkSync(other, run);
    const err = await place.check(run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFolderMovedError);
    expect((err as Error).message).toContain(run);
    expect((err as Error).message).toContain(other);
    fs.unlinkSync(run);
    fs.renameSync(`${run}.real`, run);
    await place.check(run);
  });

  it('takes a run path that is a link from the start, and catches it repointed', async () => {
    const { real, other } = dirs();
    const link = path.join(real, 'link');
    fs.symlinkSync(path.join(real, 'run'), link);
    const place = new RunFolderPlace();
    await place.record(link);
    await place.check(link);
    fs.unlinkSync(link);
    fs.symlinkSync(other, link);
    await expect(place.check(link)).rejects.toBeInstanceOf(RunFolderMovedError);
  });

  it('records a folder first seen, and a path the config changed; a folder not there passes', async () => {
    const { run, other } = dirs();
    const place = new RunFolderPlace();
    await place.record(path.join(run, 'later'));
    await place.check(path.join(run, 'later'));
    fs.symlinkSync(other, path.join(run, 'later'));
    // First seen: recorded as it is.
    await place.check(path.join(run, 'later'));
    // Another path in the config: a deliberate change, recorded.
    await place.check(other);
    fs.rmdirSync(other);
    await place.check(other);
  });
});
