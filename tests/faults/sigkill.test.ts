/**
 * kill -9 of the real daemon (and of a one-shot `ckptd snapshot`) at many instants, while a
 * trainer keeps writing multi-file states: every snapshot visible afterwards verifies against its
 * manifest (checked by an independent oracle) and holds only whole versions of the trainer's files,
 * the next start sweeps `.staging/` and `.trash/`, and `ckptd list` shows exactly the snapshot
 * folders that hold a `snapshot.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BULK_SYNC_FILES } from '../../src/store/capture-state.js';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';
import { startTrainer, trainerSnapshotProblems } from '../helpers/fault-trainer.js';
import { literal, pausedAt, pauseEnv } from '../helpers/pause-at.js';
import { seededRandom, testSeed } from '../helpers/seeded.js';
import { leftovers, snapshotFolders, verifyStore } from '../helpers/store-oracle.js';
import { testCleanups } from '../helpers/test-cleanups.js';

function writeConfig(cfg: string, runDir: string, store: string, every: string): void {
  fs.writeFileSync(
    cfg,
    `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    store: ${store}
    settle: 150ms
    progress: none
    backup: {every: ${every}, keep: 2}
    retention: {min_free: 1MB}
`,
  );
}

type Cleanup = ReturnType<typeof testCleanups>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A temp folder (removed by `cleanup`) and where its run, store and config go. */
function tempRun(cleanup: Cleanup, prefix: string): { runDir: string; store: string; cfg: string } {
  const t = tempDir(prefix);
  cleanup(t.cleanup);
  return { runDir: path.join(t.dir, 'run'), store: path.join(t.dir, 'store'), cfg: path.join(t.dir, 'ckptd.yaml') };
}

/** Everything the oracle and the trainer's own format say is wrong with the store's visible snapshots. */
function storeProblems(store: string): string[] {
  const report = verifyStore(store);
  const torn = report.snapshots.flatMap((s) =>
    trainerSnapshotProblems(
      path.join(store, 'snapshots', s.id, 'files'),
      s.files.filter((f) => f.type === undefined).map((f) => f.path),
    ).map((p) => `${s.id}: ${p}`),
  );
  return [...report.incomplete.map((i) => `visible but incomplete: ${i}`), ...report.problems, ...torn];
}

/** Starts the final daemon (policy `never`: it only sweeps) and checks the store is clean and listed exactly. */
async function checkAfterNextStart(cleanup: Cleanup, cfg: string, runDir: string, store: string): Promise<void> {
  writeConfig(cfg, runDir, store, 'never');
  const before = leftovers(store);
  const d = startDaemon(['daemon', '--config', cfg]);
  cleanup(() => d.stop());
  await d.waitFor((l) => l.event === 'daemon-start', 30_000, 'the final start');
  expect(leftovers(store), 'the start must sweep .staging and .trash').toEqual([]);
  const swept = d.lines.filter((l) => l.event === 'swept');
  for (const left of before) expect(swept.some((l) => String(l.path).endsWith(left)), `sweep of ${left} logged`).toBe(true);

  expect(storeProblems(store)).toEqual([]);
  const list = await runCli(['list', '--config', cfg, '--json']);
  expect(list.code, list.stderr).toBe(0);
  const ids = (JSON.parse(list.stdout) as { id: string }[]).map((i) => i.id).sort();
  expect(ids).toEqual(snapshotFolders(store));
  expect(await d.stop()).toBe(0);
}

// The three tests have their own folders and processes and mostly wait on them: they run concurrently.
describe.concurrent('kill -9', () => {
  it('of the daemon at many instants, during and between snapshots, never leaves a partial or torn snapshot', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = tempRun(cleanup, 'ckptd-fault-kill-');
    writeConfig(cfg, runDir, store, 'always');
    // A new 5 MB state every 800 ms: the daemon (at low priority) still works all along, settling,
    // capturing and deleting. At 350 ms a busy machine left it no window to copy a state whole, and
    // a kill waiting for a capture to begin waited for up to 20 s.
    const trainer = startTrainer(runDir, 800);
    cleanup(() => trainer.stop());
    await trainer.waitFor(1);

    // Three kinds of kill, in turn: a spread of delays after spawn (start-up, lock takeover, sweep),
    // a spread after the run started watching (settling, capture, rolling deletion, idle), and
    // right after the capture created its 1st, 2nd or 3rd copy in .staging (inside the capture
    // for certain, however fast the copies are: the daemon stops itself there, see pause-at.ts).
    // The delays are random around a spread (seed printed).
    const rand = seededRandom(testSeed('sigkill'));
    const afterSpawn = [30, 400, 150, 700, 250];
    const afterStart = [0, 500, 120, 900, 300];
    const log: string[] = [];
    let killedWithLeftovers = 0;
    let snapshotsTaken = 0;
    for (let i = 0; i < 15; i++) {
      const k = Math.floor(i / 3);
      const nth = (k % 3) + 1;
      const env = i % 3 === 2 ? pauseEnv({ op: 'open', path: `${literal(path.join(store, '.staging'))}/[^/]+/files/`, nth }) : {};
      const d: DaemonHandle = startDaemon(['daemon', '--config', cfg], env);
      cleanup(() => d.stop('SIGKILL'));
      const jitter = Math.floor(rand() * 60);
      if (i % 3 === 0) {
        await sleep(afterSpawn[k]! + jitter);
        log.push(`kill ${i}: ${afterSpawn[k]! + jitter}ms after spawn`);
      } else if (i % 3 === 1) {
        await d.waitFor((l) => l.event === 'start', 30_000, 'the run to start');
        // Every other one once a snapshot is in: a kill between snapshots (rolling deletion, idle)
        // for certain, however slowly a loaded machine gets through the first capture.
        const afterSnapshot = k % 2 === 1;
        if (afterSnapshot) await d.waitFor((l) => l.event === 'snapshot', 30_000, 'a snapshot');
        await sleep(afterStart[k]! + jitter);
        log.push(`kill ${i}: ${afterStart[k]! + jitter}ms after the run started${afterSnapshot ? ' and took a snapshot' : ''}`);
      } else {
        const at = await pausedAt(d.proc, `the creation of copy ${nth} of a capture`);
        log.push(`kill ${i}: right after creating ${path.relative(store, at)}`);
      }
      await d.stop('SIGKILL');
      snapshotsTaken += d.lines.filter((l) => l.event === 'snapshot').length;
      const left = leftovers(store);
      if (left.length > 0) killedWithLeftovers++;
      log.push(`  left ${left.join(', ') || 'nothing'}; ${snapshotFolders(store).length} visible`);
      if (i % 3 === 2) expect(left, `a kill inside the capture leaves its staging folder\n${log.join('\n')}`).not.toEqual([]);
      // Before any cleanup: whatever is visible right after the kill is whole and verified.
      expect(storeProblems(store), log.join('\n')).toEqual([]);
    }
    await trainer.stop();

    // The kills must have hit snapshots in progress and let others finish, or this proved nothing.
    expect(killedWithLeftovers, log.join('\n')).toBeGreaterThan(0);
    expect(snapshotsTaken, log.join('\n')).toBeGreaterThan(0);
    expect(snapshotFolders(store).length, log.join('\n')).toBeGreaterThan(0);

    await checkAfterNextStart(cleanup, cfg, runDir, store);
  });

  it('of a one-shot `ckptd snapshot` in the middle of copying a large file leaves nothing visible, and the next start cleans up', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = tempRun(cleanup, 'ckptd-fault-kill1-');
    fs.mkdirSync(runDir);
    // Above the small-file size (1 MiB): copied by the large-file path. The pause, not the size,
    // makes the kill land mid-copy.
    const bigSize = 32 << 20;
    fs.writeFileSync(path.join(runDir, 'big.bin'), Buffer.alloc(bigSize, 7));
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(runDir, `small-${i}.json`), JSON.stringify({ i }));
    const old = new Date(Date.now() - 60_000);
    for (const n of fs.readdirSync(runDir)) fs.utimesSync(path.join(runDir, n), old, old);
    writeConfig(cfg, runDir, store, 'never');

    // Kill once the staged copy of big.bin is created and before a byte of it is written: certainly
    // mid-copy, however fast the copy (a reflink is instant). The process stops itself right after
    // creating that file (see pause-at.ts).
    const proc = startDaemon(['snapshot', '--config', cfg, '--json'], pauseEnv({ op: 'open', path: `${literal(path.join(store, '.staging'))}/[^/]+/files/big\\.bin$` }));
    cleanup(() => proc.stop('SIGKILL'));
    const staged = await pausedAt(proc.proc, 'the creation of the staged big.bin');
    expect(fs.statSync(staged).size).toBeLessThan(bigSize);
    await proc.stop('SIGKILL');

    // Nothing half-written is visible; the leftover is only in .staging.
    expect(snapshotFolders(store)).toEqual([]);
    expect(storeProblems(store)).toEqual([]);
    expect(leftovers(store).length).toBe(1);
    const listed = await runCli(['list', '--config', cfg, '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([]);

    // The next one-shot snapshot is not confused by the leftover and completes.
    const again = await runCli(['snapshot', '--config', cfg, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const id = (JSON.parse(again.stdout) as { id: string }).id;
    expect(snapshotFolders(store)).toEqual([id]);

    await checkAfterNextStart(cleanup, cfg, runDir, store);
    const report = verifyStore(store);
    expect(report.snapshots.map((s) => s.files.length)).toEqual([11]);
  });

  it('of a one-shot `ckptd snapshot` of many small files, mid-batch (copies not yet durable) or after the batch sync, leaves nothing visible', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { runDir, store, cfg } = tempRun(cleanup, 'ckptd-fault-kill-many-');
    // Enough small files for the capture to close its copies unsynced and make them durable at
    // once at the end (BULK_SYNC_FILES, one syncfs), in folders like a dataset cache.
    const FILES = BULK_SYNC_FILES + 100;
    const HALF = Math.floor(FILES / 2);
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(runDir, 'cache', `shard-${Math.floor(i / 500)}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `item-${i}.json`), JSON.stringify({ item: i }));
    }
    const old = new Date(Date.now() - 60_000);
    for (const f of fs.readdirSync(runDir, { recursive: true }) as string[]) fs.utimesSync(path.join(runDir, f), old, old);
    writeConfig(cfg, runDir, store, 'never');
    const staging = literal(path.join(store, '.staging'));

    // Killed after the copy halfway through is created (the batch half done), then right after the batch's
    // sync, once snapshot.json is created in the staging folder and before anything is renamed.
    for (const at of [
      { path: `${staging}/[^/]+/files/cache/.+\\.json$`, nth: HALF, what: `the staged copy #${HALF}` },
      { path: `${staging}/[^/]+/snapshot\\.json$`, nth: 1, what: 'the staged snapshot.json' },
    ]) {
      const proc = startDaemon(['snapshot', '--config', cfg, '--json'], pauseEnv({ op: 'open', path: at.path, nth: at.nth }));
      cleanup(() => proc.stop('SIGKILL'));
      await pausedAt(proc.proc, at.what);
      await proc.stop('SIGKILL');
      expect(snapshotFolders(store), at.what).toEqual([]);
      expect(verifyStore(store).problems, at.what).toEqual([]);
      expect(leftovers(store).length, at.what).toBeGreaterThan(0);
      const listed = await runCli(['list', '--config', cfg, '--json']);
      expect(JSON.parse(listed.stdout), at.what).toEqual([]);
    }

    // The next snapshot is not confused by the leftovers, and holds every file, verified.
    const again = await runCli(['snapshot', '--config', cfg, '--json']);
    expect(again.code, again.stderr).toBe(0);
    await checkAfterNextStart(cleanup, cfg, runDir, store);
    const report = verifyStore(store);
    expect(report.problems).toEqual([]);
    expect(report.snapshots.map((s) => s.files.length)).toEqual([FILES]);
  });
});
