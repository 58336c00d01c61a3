/**
 * Links of many unchanged files made on two threads (issue 15): the same snapshot as links made
 * one by one (each unchanged file the previous snapshot's inode, with its digest), a damaged
 * stored file copied instead of linked, a source changed after the scan caught by the consistency
 * pass, and an error of a link reported with its path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { LINK_IN_WORKERS_FROM } from '../../src/store/link-unchanged.js';
import { LINKED, linkStoredFiles, NOT_LINKABLE } from '../../src/store/link-workers.js';
import { age, put, rewriteKeepingMtime, runAndStore, scanAll, sha256, sha256File, snap } from './fixtures.js';

const FILES = LINK_IN_WORKERS_FROM + 500;
/** When the stored files were sealed: later than any of them was written. */
const NOW = (Date.now() + 60_000) * 1000;

/** A run of `FILES` small files in folders of 250, and its first snapshot. */
async function bigRun() {
  const { base, run, store } = await runAndStore();
  for (let i = 0; i < FILES; i++) age(put(run, `cache/shard-${Math.floor(i / 250)}/item-${i}.json`, `{"item": ${i}}`));
  const first = await snap(run, store);
  return { base, run, store, first };
}

function inode(file: string): number {
  return fs.statSync(file).ino;
}

describe('links of many unchanged files on two threads', () => {
  it('links every unchanged file to the previous snapshot\'s inode and copies the one changed', async () => {
    const { run, store, first } = await bigRun();
    age(put(run, 'cache/shard-3/item-800.json', '{"item": "new"}'));

    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });

    expect(second.files).toHaveLength(FILES);
    expect(second.skipped).toEqual([]);
    for (const f of second.files) {
      const stored = path.join(second.path, f.path);
      if (f.path === 'cache/shard-3/item-800.json') {
        expect(f.sha256).toBe(sha256('{"item": "new"}'));
        expect(inode(stored)).not.toBe(inode(path.join(first.path, f.path)));
      } else {
        expect(inode(stored), f.path).toBe(inode(path.join(first.path, f.path)));
        expect(f.sha256).toBe(first.files.find((p) => p.path === f.path)!.sha256);
      }
    }
    expect(second.copied_bytes).toBe(Buffer.byteLength('{"item": "new"}'));
    expect(second.linked_bytes).toBe(second.bytes - second.copied_bytes);
  });

  it('copies a file whose stored copy in the previous snapshot is damaged instead of linking it', async () => {
    const { run, store, first } = await bigRun();
    const damaged = path.join(first.path, 'cache/shard-1/item-300.json');
    fs.chmodSync(damaged, 0o644);
    fs.appendFileSync(damaged, 'garbage');
    fs.chmodSync(damaged, 0o444);

    const second = await snap(run, store, { previous: first, now: Date.now() + 1000 });

    const stored = path.join(second.path, 'cache/shard-1/item-300.json');
    expect(fs.readFileSync(stored, 'utf8')).toBe('{"item": 300}');
    expect(inode(stored)).not.toBe(inode(damaged));
    expect(second.files.find((f) => f.path === 'cache/shard-1/item-300.json')!.sha256).toBe(sha256('{"item": 300}'));
    expect(second.copied_bytes).toBe(Buffer.byteLength('{"item": 300}'));
  });

  it('captures the new version of a file rewritten after the scan with its mtime put back', async () => {
    const { run, store, first } = await bigRun();
    const entries = await scanAll(run, store);
    rewriteKeepingMtime(path.join(run, 'cache/shard-7/item-1900.json'), '{"item": 1999}');

    const second = await snap(run, store, { entries, previous: first, now: Date.now() + 1000, retryDelayMs: 5 });

    const f = second.files.find((x) => x.path === 'cache/shard-7/item-1900.json')!;
    expect(f.sha256).toBe(sha256('{"item": 1999}'));
    expect(sha256File(path.join(second.path, f.path))).toBe(f.sha256);
    expect(second.skipped).toEqual([]);
    expect(second.files).toHaveLength(FILES);
  });

  it('answers for every job in order when a worker gets its jobs in several messages', async () => {
    const { base } = await runAndStore();
    const from = path.join(base, 'from');
    const to = path.join(base, 'to');
    const jobs = [];
    for (let d = 0; d < 3; d++) {
      fs.mkdirSync(path.join(to, `d${d}`), { recursive: true });
      for (let i = 0; i < 9; i++) {
        const rel = `d${d}/f${i}`;
        fs.chmodSync(put(from, rel, 'x'.repeat(i + 1)), 0o444);
        // Every third job asks for another size: not linked.
        jobs.push({ path: rel, size: i % 3 === 0 ? 99 : i + 1, mode: 0o444 });
      }
    }

    const results = await linkStoredFiles(from, to, NOW, jobs, { batch: 4 });

    expect([...results]).toEqual(jobs.map((j) => (j.size === 99 ? NOT_LINKABLE : LINKED)));
    for (const j of jobs) expect(fs.existsSync(path.join(to, j.path)), j.path).toBe(j.size !== 99);
  });

  // A worker that links every name of its first batch itself (no checks) and dies before it answers:
  // the worst a death can leave behind.
  const DIES_AFTER_LINKING = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    parentPort.once('message', ({ rels }) => {
      for (const rel of rels.split('\\0')) fs.linkSync(workerData.fromDir + '/' + rel, workerData.toDir + '/' + rel);
      process.exit(1);
    });
  `;

  it.each([
    ['cannot start', () => { throw Object.assign(new Error('Resource temporarily unavailable'), { code: 'EAGAIN' }); }],
    ['throws as it starts', () => new Worker('throw new Error("no threads left")', { eval: true })],
    ['dies after linking its batch, before answering', (workerData: { fromDir: string; toDir: string }) => new Worker(DIES_AFTER_LINKING, { eval: true, workerData })],
  ] as const)('links on this thread what a worker that %s left, and takes its links as made', async (_how, spawn) => {
    const { base } = await runAndStore();
    const from = path.join(base, 'from');
    const to = path.join(base, 'to');
    const jobs = [];
    for (const d of ['big', 'small']) {
      fs.mkdirSync(path.join(to, d), { recursive: true });
      for (let i = 0; i < (d === 'big' ? 8 : 6); i++) {
        const rel = `${d}/f${i}`;
        fs.chmodSync(put(from, rel, 'y'.repeat(i + 1)), 0o444);
        jobs.push({ path: rel, size: i + 1, mode: 0o444 });
      }
    }

    const results = await linkStoredFiles(from, to, NOW, jobs, { batch: 4, spawn });

    expect([...results]).toEqual(jobs.map(() => LINKED));
    for (const j of jobs) expect(inode(path.join(to, j.path)), j.path).toBe(inode(path.join(from, j.path)));
  });

  it('does not take a name a dead worker left as linked when it is another file', async () => {
    const { base } = await runAndStore();
    const from = path.join(base, 'from');
    const to = path.join(base, 'to');
    for (const d of ['big', 'small']) fs.mkdirSync(path.join(to, d), { recursive: true });
    const jobs = ['big/a', 'big/b', 'big/c', 'small/a', 'small/b'].map((rel) => {
      fs.chmodSync(put(from, rel, 'z'), 0o444);
      return { path: rel, size: 1, mode: 0o444 };
    });
    // Something else already sits at the name the worker was to link.
    put(to, 'small/b', 'z');

    await expect(linkStoredFiles(from, to, NOW, jobs, { spawn: () => new Worker('process.exit(1)', { eval: true }) })).rejects.toThrow(/EEXIST.*small\/b|small\/b.*EEXIST/);
  });

  it('reports each file linked or not, and throws an error no copy gets around with the path it met it at', async () => {
    const { base } = await runAndStore();
    const from = path.join(base, 'from');
    const to = path.join(base, 'to');
    fs.mkdirSync(path.join(to, 'a'), { recursive: true });
    fs.mkdirSync(path.join(to, 'b'), { recursive: true });
    put(from, 'a/one', '1');
    put(from, 'b/two', '22');
    put(from, 'b/three', '333');
    for (const f of ['a/one', 'b/two', 'b/three']) fs.chmodSync(path.join(from, f), 0o444);

    const results = await linkStoredFiles(from, to, NOW, [
      { path: 'a/one', size: 1, mode: 0o444 },
      { path: 'b/two', size: 5, mode: 0o444 },
      { path: 'b/three', size: 3, mode: 0o555 },
      { path: 'b/gone', size: 1, mode: 0o444 },
    ]);
    expect([...results]).toEqual([LINKED, NOT_LINKABLE, NOT_LINKABLE, NOT_LINKABLE]);
    expect(inode(path.join(to, 'a/one'))).toBe(inode(path.join(from, 'a/one')));
    expect(fs.existsSync(path.join(to, 'b/two'))).toBe(false);

    // The name exists already: EEXIST is no reason to copy instead, it is an error.
    await expect(linkStoredFiles(from, to, NOW, [{ path: 'a/one', size: 1, mode: 0o444 }])).rejects.toThrow(/EEXIST.*to\/a\/one|to\/a\/one.*EEXIST/);
    // The same on the worker thread: the bigger folder (b/) is linked here, a/ there.
    await expect(
      linkStoredFiles(from, to, NOW, [
        { path: 'a/one', size: 1, mode: 0o444 },
        { path: 'b/two', size: 2, mode: 0o444 },
        { path: 'b/three', size: 3, mode: 0o444 },
      ]),
    ).rejects.toThrow(/EEXIST.*to\/a\/one|to\/a\/one.*EEXIST/);
  });
});
