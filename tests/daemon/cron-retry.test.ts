/**
 * A cron backup whose snapshot failed is retried: the retry takes the backup the tick asked for,
 * and does not wait for the next tick (an hourly or daily schedule would lose that backup for good).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { RunConfig } from '../../src/config/types.js';
import { BlockingFiles } from '../../src/daemon/blocking-files.js';
import { RequestQueue } from '../../src/daemon/request-queue.js';
import { RETRY_AFTER_MS, RunEvaluation } from '../../src/daemon/run-evaluation.js';
import { RunTriggers } from '../../src/daemon/run-triggers.js';
import { EMPTY_RUN_STATE } from '../../src/policy/types.js';
import { stateFile } from '../../src/store/layout.js';
import { storeOf } from '../../src/store/local-store.js';
import type { StoreLock } from '../../src/store/store.js';
import { formatProblem } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/logger.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** A logger keeping the `event` of each warning and error. */
function recording(): Logger & { events: unknown[] } {
  const events: unknown[] = [];
  const note = (_m: string, f?: Record<string, unknown>): void => void events.push(f?.event);
  const logger: Logger & { events: unknown[] } = { events, error: note, warn: note, info() {}, debug() {}, child: () => logger };
  return logger;
}

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A run holding one settled model file, with a backup by cron only. */
function cronRun(minFree: string): RunConfig {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-cron-retry-'));
  cleanups.push(() => fs.promises.rm(base, { recursive: true, force: true }));
  fs.mkdirSync(path.join(base, 'run'));
  const model = path.join(base, 'run', 'model.bin');
  fs.writeFileSync(model, 'weights');
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(model, past, past);
  const text = `runs:\n  - name: r\n    path: ./run\n    store: ./store\n    progress: none\n    backup: {every: never, cron: "* * * * * *"}\n    retention: {min_free: ${minFree}}\n`;
  const r = parseConfigText(text, path.join(base, 'ckptd.yaml'), base);
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config.runs[0]!;
}

/**
 * The run's store locked, and its evaluation right after one tick of its cron schedule, which then
 * stops (its flag stays), as an hourly one would until the next hour.
 */
async function afterOneTick(
  runOf: () => RunConfig,
): Promise<{ evaluation: RunEvaluation; triggers: RunTriggers; logger: ReturnType<typeof recording>; wall: { jump: number } }> {
  const store = storeOf(runOf().store);
  await store.ensure();
  const lock: StoreLock = await store.lock({ pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: 'daemon' });
  cleanups.push(() => lock.release());
  let ticked: () => void = () => undefined;
  const tick = new Promise<void>((r) => (ticked = r));
  // The triggers' wall clock, which the test moves on by hand (a retry is due once its delay passed).
  const wall = { jump: 0 };
  const triggers = new RunTriggers(() => ticked(), () => Date.now() + wall.jump);
  cleanups.push(() => triggers.clear());
  const logger = recording();
  const evaluation = new RunEvaluation(runOf, EMPTY_RUN_STATE, null, lock, logger, Date.now, triggers, new RequestQueue(quiet, () => undefined), new BlockingFiles(quiet));
  triggers.armCron(runOf().backup.cron, null);
  await tick;
  await triggers.clear();
  return { evaluation, triggers, logger, wall };
}

describe('a failed cron backup', () => {
  it('is taken by the retry, without waiting for the next tick', async () => {
    // First more free disk than any disk has: the snapshot is refused (LowDiskError, retried).
    let run = cronRun('7PiB');
    const store = storeOf(run.store);
    const { evaluation, triggers, logger, wall } = await afterOneTick(() => run);
    await evaluation.evaluate();
    expect(logger.events).toEqual(['low-disk']);
    expect(await store.listSnapshotHeaders()).toEqual([]);

    // The disk has room again; the retry (RETRY_AFTER_MS later) evaluates.
    await triggers.clear();
    run = { ...run, retention: { ...run.retention, minFreeBytes: 0 } };
    // Not before its delay: an evaluation kicked sooner does not try again at once.
    expect(triggers.anyDue).toBe(false);
    wall.jump = RETRY_AFTER_MS;
    expect(triggers.anyDue).toBe(true);
    await evaluation.evaluate();
    const taken = await store.listSnapshotHeaders();
    expect(taken.map((s) => [s.kind, s.trigger])).toEqual([['backup', 'cron * * * * * *']]);
  });

  it('is taken even when state.json cannot be written, which is written once it can be', async () => {
    const run = cronRun('0');
    const store = storeOf(run.store);
    // A folder where state.json goes (a full disk or a read-only remount fail the write the same way).
    fs.mkdirSync(path.join(stateFile(run.store), 'x'), { recursive: true });
    const { evaluation, triggers, logger } = await afterOneTick(() => run);

    await evaluation.evaluate();
    const taken = await store.listSnapshotHeaders();
    expect(taken.map((s) => [s.kind, s.trigger])).toEqual([['backup', 'cron * * * * * *']]);
    // Not a failed snapshot to retry ("nothing stored was changed" was wrong: it was stored).
    expect(logger.events).toEqual(['state-unsaved']);

    // Writable again: the next look writes the state the backup left (its anchor), unchanged since.
    fs.rmSync(stateFile(run.store), { recursive: true });
    await triggers.clear();
    await evaluation.evaluate();
    const saved = JSON.parse(fs.readFileSync(stateFile(run.store), 'utf8')) as { backup: { lastDigest?: unknown } };
    expect(saved.backup).toMatchObject({ lastDigest: taken[0]!.state_digest });
  });
});
