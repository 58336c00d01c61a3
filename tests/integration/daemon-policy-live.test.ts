/**
 * Policies against a running daemon when the training's timeline or the config changes under it:
 * a restore served by the daemon moves the epoch and step anchors back with the run, and a config
 * edit that makes a policy overdue fires it once, without waiting for another change, and an edit that
 * only sets the watch up afresh does not count the state already seen as a new change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeEpoch } from '../../demo/fake-checkpoint.js';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';

const EPOCH = { stepsPerEpoch: 100, modelBytes: 50_000, optimizerBytes: 100_000 };

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function config(runDir: string, backup: string): string {
  return `log: {level: debug, format: json}
runs:
  - name: train
    path: ${runDir}
    settle: 300ms
    progress: hf
    backup: ${backup}
    retention: {min_free: 0}
`;
}

/** Starts a daemon on a fresh run folder with `backup` (YAML flow mapping) as its backup policy. */
async function start(backup: string): Promise<{ d: DaemonHandle; runDir: string; cfg: string }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const runDir = path.join(t.dir, 'run');
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, config(runDir, backup));
  const d = startDaemon(['daemon', '--config', cfg]);
  cleanups.push(() => d.stop());
  await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
  return { d, runDir, cfg };
}

/** Writes epoch `e` and waits until the daemon has evaluated that settled state. */
async function trainEpoch(d: DaemonHandle, runDir: string, e: number): Promise<void> {
  const seen = d.lines.length;
  await writeEpoch(runDir, e, EPOCH);
  await d.waitFor((l) => d.lines.indexOf(l) >= seen && l.event === 'evaluated' && l.epoch === e, 30_000, `evaluation of epoch ${e}`);
}

const backupsAt = (d: DaemonHandle): unknown[] => d.lines.filter((l) => l.event === 'snapshot' && l.kind === 'backup').map((l) => l.epoch);

describe('a restore served by the running daemon', () => {
  it('moves the epoch anchor back: the next multiple after the restored epoch is backed up again', async () => {
    const { d, runDir, cfg } = await start('{every: 5 epochs, keep: 5}');
    // A trainer that checkpoints every 5 epochs, as the policy backs up.
    for (const e of [5, 10, 15]) await trainEpoch(d, runDir, e);
    expect(backupsAt(d)).toEqual([5, 10, 15]);

    // Training diverged after epoch 5: go back there, through the daemon.
    const list = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as { id: string; kind: string; epoch: number }[];
    const epoch5 = list.find((s) => s.kind === 'backup' && s.epoch === 5)!;
    const restored = await runCli(['restore', epoch5.id, '--yes', '--config', cfg]);
    expect(restored.code, restored.stderr).toBe(0);
    await d.waitFor((l) => l.event === 'restore', 20_000, 'the restore');

    // The new timeline reaches epoch 10: a state no backup holds, at a multiple of 5.
    await trainEpoch(d, runDir, 10);
    expect(backupsAt(d)).toEqual([5, 10, 15, 10]);
    await trainEpoch(d, runDir, 15);
    expect(backupsAt(d)).toEqual([5, 10, 15, 10, 15]);
    expect(await d.stop()).toBe(0);
  });
});

/** Rewrites the config with `backup` and waits until the daemon has applied it. */
async function edit(d: DaemonHandle, runDir: string, cfg: string, backup: string): Promise<void> {
  const seen = d.lines.length;
  fs.writeFileSync(cfg, config(runDir, backup));
  await d.waitFor((l) => d.lines.indexOf(l) >= seen && l.event === 'config-reloaded', 20_000, 'config reload');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a live edit that makes a policy overdue', () => {
  it('a time interval shortened past the time already waited fires once, with no further change', async () => {
    const { d, runDir, cfg } = await start('{every: 1 hour}');
    // The first evaluation sets the time anchor.
    await trainEpoch(d, runDir, 1);
    const anchored = Date.now();
    // Changed since the time anchor was set, not yet due.
    await trainEpoch(d, runDir, 2);
    // Wait past the new interval since the anchor, so that the edit finds the policy overdue.
    await sleep(anchored + 1500 - Date.now());
    await edit(d, runDir, cfg, '{every: 1 second}');
    const taken = await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the overdue backup');
    expect(taken).toMatchObject({ kind: 'backup', trigger: 'every 1 second', epoch: 2 });
    // Once: the interval passes again after the backup and the timer fires, but the state is unchanged
    // since, so the backup policy is due yet decides to skip (a look before then would say "next in").
    const after = d.lines.indexOf(taken);
    const next = await d.waitFor(
      (l) => d.lines.indexOf(l) > after && l.event === 'decision' && (l.action === 'backup' || (l.policy === 'backup' && /: due \(.*state unchanged/.test(l.message))),
      20_000,
      'the backup policy judging the unchanged state when the interval has passed again',
    );
    expect(next).toMatchObject({ action: 'skip', epoch: 2 });
    expect(backupsAt(d)).toEqual([2]);
    expect(await d.stop()).toBe(0);
  });

  it('an epoch interval shortened past the current epoch fires once, with no further change', async () => {
    const { d, runDir, cfg } = await start('{every: 10 epochs}');
    await trainEpoch(d, runDir, 7);
    await edit(d, runDir, cfg, '{every: 5 epochs}');
    const taken = await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the overdue backup');
    expect(taken).toMatchObject({ kind: 'backup', trigger: 'every 5 epochs', epoch: 7 });
    // Once, and counted from the backup at 7: nothing more by epoch 9, the next is at 10.
    await trainEpoch(d, runDir, 9);
    expect(backupsAt(d)).toEqual([7]);
    await trainEpoch(d, runDir, 10);
    expect(backupsAt(d)).toEqual([7, 10]);
    expect(await d.stop()).toBe(0);
  });
});

describe('a live edit that sets the watch up afresh', () => {
  it('does not count the state already seen as one more change', async () => {
    const { d, runDir, cfg } = await start('{every: 2 changes}');
    await trainEpoch(d, runDir, 1);
    // One change counted, none taken; a new save folder (or watch mode) changes nothing in the run.
    const seen = d.lines.length;
    fs.writeFileSync(cfg, config(runDir, '{every: 2 changes}') + `    save: {to: ${path.join(path.dirname(runDir), 'saves')}}\n`);
    await d.waitFor((l) => d.lines.indexOf(l) >= seen && l.event === 'evaluated', 20_000, 'the evaluation after the edit');
    expect(backupsAt(d)).toEqual([]);
    await trainEpoch(d, runDir, 2);
    expect(backupsAt(d)).toEqual([2]);
    expect(await d.stop()).toBe(0);
  });
});
