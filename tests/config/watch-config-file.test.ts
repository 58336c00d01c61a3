/**
 * watchConfigFile on real files: edits made the way tools make them (`sed -i` renames a new file
 * over the config), a symlinked config whose target vanishes and comes back, and a link repointed.
 * Each change handler reads the file, as the daemon does, so a test waits for the content it wrote.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConfigFile } from '../../src/config/watch-config-file.js';

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-watch-config-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What the handler read at each change: the text, or `error CODE`. */
interface Seen {
  reads: string[];
  /** Resolves when a change is reported after which the file reads `expected`. */
  until(expected: string): Promise<void>;
}

function follow(file: string): Seen {
  const reads: string[] = [];
  const waiters: { expected: string; resolve: () => void }[] = [];
  const stop = watchConfigFile(
    file,
    () => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        text = `error ${(err as NodeJS.ErrnoException).code}`;
      }
      reads.push(text);
      for (const w of waiters.filter((x) => x.expected === text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    (err) => reads.push(`watch error ${err.message}`),
  );
  cleanups.push(stop);
  return {
    reads,
    until(expected) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no change reported with "${expected}"; saw ${JSON.stringify(reads)}`)), 15_000);
        waiters.push({ expected, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

/** What `sed -i` does: write a new file next to the target, then rename it over the target. */
function sedInPlace(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `sed${Math.random().toString(36).slice(2, 8)}`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

describe('watchConfigFile', () => {
  it('reports a start-up check once the watch is ready', async () => {
    const file = path.join(tempDir(), 'c.yaml');
    fs.writeFileSync(file, 'v1');
    await follow(file).until('v1');
  });

  it('notices every edit made by renaming a new file over the config (sed -i), not only the first', async () => {
    const file = path.join(tempDir(), 'c.yaml');
    fs.writeFileSync(file, 'v1');
    const seen = follow(file);
    await seen.until('v1');
    // The reported sequence, with the real tools: a copy in place, then at once a rename over it.
    fs.writeFileSync(path.join(path.dirname(file), 'good.yaml'), 'v1');
    execFileSync('cp', [path.join(path.dirname(file), 'good.yaml'), file]);
    execFileSync('sed', ['-i', 's/v1/v2/', file]);
    await seen.until('v2');
    execFileSync('sed', ['-i', 's/v2/v3/', file]);
    await seen.until('v3');
    sedInPlace(file, 'v4');
    await seen.until('v4');
    fs.writeFileSync(file, 'v5');
    await seen.until('v5');
  });

  it('notices the config deleted, then written again once the deletion was reported', async () => {
    const file = path.join(tempDir(), 'c.yaml');
    fs.writeFileSync(file, 'v1');
    const seen = follow(file);
    await seen.until('v1');
    fs.rmSync(file);
    await seen.until('error ENOENT');
    fs.writeFileSync(file, 'v2');
    await seen.until('v2');
    execFileSync('sed', ['-i', 's/v2/v3/', file]);
    await seen.until('v3');
  });

  it('reports a symlinked config that becomes dangling, and picks it up again when it is fixed', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'real'));
    const target = path.join(dir, 'real', 'target.yaml');
    fs.writeFileSync(target, 'v1');
    const file = path.join(dir, 'c.yaml');
    fs.symlinkSync(target, file);
    const seen = follow(file);
    await seen.until('v1');

    fs.rmSync(target);
    await seen.until('error ENOENT');
    fs.writeFileSync(target, 'v2');
    await seen.until('v2');
    fs.writeFileSync(target, 'v3');
    await seen.until('v3');
  });

  it('follows a symlink repointed to another file, and edits of the new target', async () => {
    const dir = tempDir();
    for (const d of ['a', 'b']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, 'a', 'c.yaml'), 'a1');
    fs.writeFileSync(path.join(dir, 'b', 'c.yaml'), 'b1');
    const file = path.join(dir, 'c.yaml');
    fs.symlinkSync(path.join('a', 'c.yaml'), file);
    const seen = follow(file);
    await seen.until('a1');

    // `ln -sfn` style: a new link renamed over the old one.
    fs.symlinkSync(path.join('b', 'c.yaml'), path.join(dir, 'link.tmp'));
    fs.renameSync(path.join(dir, 'link.tmp'), file);
    await seen.until('b1');
    sedInPlace(path.join(dir, 'b', 'c.yaml'), 'b2');
    await seen.until('b2');
  });

  it('notices the config created after the watch started', async () => {
    const file = path.join(tempDir(), 'c.yaml');
    const seen = follow(file);
    await seen.until('error ENOENT');
    fs.writeFileSync(file, 'v1');
    await seen.until('v1');
    expect(seen.reads.filter((r) => r.startsWith('watch error'))).toEqual([]);
  });
});
