/**
 * kill -9 at many instants of a snapshot: whatever is visible afterwards is a complete, verified
 * snapshot, and sweepStore removes what the killed writer left behind.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sweepStore } from '../../src/store/delete-snapshot.js';
import { listSnapshots } from '../../src/store/read-store.js';
import { literal, pausedAt, pauseEnv, type PausePoint } from '../helpers/pause-at.js';
import { buildStore } from '../helpers/store-child.js';
import { put, runAndStore, sha256File } from './fixtures.js';

const CHILD = `
import { scanState } from './src/store/scan.js';
import { writeSnapshot } from './src/store/write-snapshot.js';
const [run, store] = process.argv.slice(2);
const entries = await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [store] });
process.stdout.write('start\\n');
await writeSnapshot({ store, runName: 'r', runDir: run, entries, kind: 'backup', trigger: 'crash-test',
  progress: { epoch: null, step: null, loss: null, metrics: {}, source: null }, previous: null, now: Date.now(), settleMs: 0 });
process.stdout.write('done\\n');
`;

describe('a writer killed at any instant', () => {
  it('leaves only complete snapshots visible, and sweepStore cleans the rest', async () => {
    const built = await buildStore();
    onTestFinished(() => fs.rmSync(built, { recursive: true, force: true }));
    fs.writeFileSync(path.join(built, 'child.mjs'), CHILD);
    const { run, store } = await runAndStore();
    for (let i = 0; i < 40; i++) put(run, `small/${i}.json`, JSON.stringify({ i }));
    put(run, 'big.bin', Buffer.alloc(48 << 20, 3));

    // Instants made exact by the writer stopping itself right after a call (see pause-at.ts), so
    // they are mid-snapshot however fast the copies: after creating its 1st, 2nd, 20th and 41st
    // (last) staged copy, after creating snapshot.json in staging, and after the rename that
    // publishes it. Then instants after a delay, which land wherever the writer is by then.
    const staged = `^${literal(path.join(store, '.staging'))}/[^/]+/`;
    const events: { at: PausePoint; published: boolean }[] = [
      ...[1, 2, 20, 41].map((nth) => ({ at: { op: 'open' as const, path: `${staged}files/`, nth }, published: false })),
      { at: { op: 'open', path: `${staged}snapshot\\.json$` }, published: false },
      { at: { op: 'rename', path: `^${literal(path.join(store, 'snapshots'))}/[^/]+$` }, published: true },
    ];
    const points: ({ at: PausePoint; published: boolean } | number)[] = [...events, 0, 5, 15, 30, 60, 100, 150, 250, 400];
    let killedMidway = 0;
    for (const point of points) {
      const env = typeof point === 'number' ? {} : pauseEnv(point.at);
      const child = spawn(process.execPath, [path.join(built, 'child.mjs'), run, store], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const visibleBefore = (await listSnapshots(store).catch(() => [])).length;
      if (typeof point === 'number') {
        const started = await Promise.race([new Promise<boolean>((r) => child.stdout!.once('data', () => r(true))), exited.then(() => false)]);
        expect(started, 'the child writer failed to start').toBe(true);
        await new Promise((r) => setTimeout(r, point));
      } else {
        await pausedAt(child, `${point.at.op} ${point.at.path} #${point.at.nth ?? 1}`);
      }
      child.kill('SIGKILL');
      await exited;
      if (!out.includes('done')) killedMidway++;
      if (typeof point !== 'number') {
        // Stopped before the rename: the new snapshot is only in staging; after it: visible.
        expect(fs.readdirSync(path.join(store, '.staging')).length, point.at.path).toBe(point.published ? 0 : 1);
        expect((await listSnapshots(store)).length, point.at.path).toBe(visibleBefore + (point.published ? 1 : 0));
      }

      for (const s of await listSnapshots(store)) {
        for (const f of s.files) expect(sha256File(path.join(s.path, f.path)), `${s.id} ${f.path}`).toBe(f.sha256);
        expect(s.files).toHaveLength(41);
      }
      await sweepStore(store);
      // A writer killed before it created the store leaves no .staging at all.
      const staging = path.join(store, '.staging');
      expect(fs.existsSync(staging) ? fs.readdirSync(staging) : []).toEqual([]);
    }
    // Some kills must have landed mid-snapshot, or the test proved nothing.
    expect(killedMidway).toBeGreaterThan(0);
  });
});
