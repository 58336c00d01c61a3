/**
 * Which backup `ckptd run --resume` restores (SPEC section 7), with real processes: one of the
 * interrupted training, never one taken of the state its crash left (by `backup-now` or a daemon
 * afterwards, whose torn files looked settled), whether the end of the session was recorded (the
 * trainer failed) or not (ckptd itself was killed); and a complete backup before a newer one that
 * left files out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { runCli } from '../helpers/daemon-process.js';
import { runToEnd, startRun, trainerFolders, trainerStart, waitForFile } from '../helpers/run-process.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface World {
  dir: string;
  cfg: string;
  run: string;
  out: string;
  trainer: string;
  env: NodeJS.ProcessEnv;
}

function world(backup = '{every: 1 epochs, keep: 10}'): World {
  const t = trainerFolders('ckptd-resume-pick-');
  cleanups.push(t.cleanup);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `log: {format: json, level: debug}
runs:
  - name: r
    path: ./run
    settle: 200ms
    progress: {file: state.json, epoch: epoch, step: step}
    backup: ${backup}
    retention: {min_free: 1MB}
`,
  );
  return { dir: t.dir, cfg, run: t.run, out: t.out, trainer: t.trainer, env: t.env };
}

async function backups(w: World): Promise<{ id: string; epoch: number | null }[]> {
  const r = await runCli(['list', '--json', '--config', w.cfg]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { id: string; kind: string; epoch: number | null }[]).filter((s) => s.kind === 'backup');
}

/** What a crash leaves: a torn model that looks settled (old mtime), then a `backup-now` of it. */
async function tornBackupAfterTheCrash(w: World): Promise<string> {
  fs.writeFileSync(path.join(w.run, 'model.bin'), 'torn half-written model');
  const old = new Date(Date.now() - 60_000);
  for (const f of ['model.bin', 'state.json']) fs.utimesSync(path.join(w.run, f), old, old);
  const r = await runCli(['backup-now', '--config', w.cfg]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const epochModel = (e: number): string => `model after epoch ${e}\n`.repeat(2000);

describe('ckptd run --resume picks a backup of the interrupted training', () => {
  it('not one taken after the trainer failed, of the state it left', async () => {
    const w = world();
    // The training is backed up at epochs 1 and 2, and fails writing epoch 3.
    const a = await runToEnd(['run', '--config', w.cfg, '--', process.execPath, w.trainer, '--epochs', '4', '--crash-at', '3', '--wait-backups', '--label', 'a'], w.env);
    expect(a.code, a.stderr).toBe(1);
    const e2 = (await backups(w)).find((b) => b.epoch === 2)!;
    expect(e2).toBeDefined();
    const torn = await tornBackupAfterTheCrash(w);

    const r = await runToEnd(['run', '--resume', '--config', w.cfg, '--', process.execPath, w.trainer, '--epochs', '0', '--exit', '1', '--label', 'r'], w.env);
    expect(r.code, r.stderr).toBe(1);
    expect(trainerStart(w.out, 'r').env.CKPTD_RESTORED_ID).toBe(e2.id);
    expect(fs.readFileSync(path.join(w.run, 'model.bin'), 'utf8')).toBe(epochModel(2));
    expect((await backups(w)).map((b) => b.id)).toContain(torn);
  });

  it('not one taken after ckptd itself was killed (no end recorded), of the state the kill left', async () => {
    const w = world();
    // The trainer reaches epoch 2 and goes on (sleep); ckptd and all it started are killed at once.
    const cmd = `'${process.execPath}' '${w.trainer}' --epochs 2 --wait-backups --label k && : > '${w.out}/k.ready' && exec sleep 60`;
    const h = startRun(['run', '--config', w.cfg, '--', 'sh', '-c', cmd], w.env);
    cleanups.push(() => void h.proc.kill('SIGKILL'));
    await waitForFile(path.join(w.out, 'k.ready'));
    // Read from the store itself: a `ckptd list` per look would take most of the test's time.
    const snapshots = path.join(w.dir, '.ckptd', 'r', 'snapshots');
    const backupOf2 = (): { id: string } | undefined =>
      (fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : [])
        .flatMap((id) => {
          try {
            return [JSON.parse(fs.readFileSync(path.join(snapshots, id, 'snapshot.json'), 'utf8')) as { id: string; kind: string; epoch: number }];
          } catch {
            return []; // deleted meanwhile
          }
        })
        .find((m) => m.kind === 'backup' && m.epoch === 2);
    await waitUntil(() => backupOf2() !== undefined, 'the backup of epoch 2');
    const e2 = backupOf2()!;
    const store = path.join(w.dir, '.ckptd', 'r');
    const { trainer_pid: trainer, session_id: sessionId } = JSON.parse(fs.readFileSync(path.join(store, 'session.json'), 'utf8')) as { trainer_pid: number; session_id: string };
    // The session's own backups say so.
    expect(JSON.parse(fs.readFileSync(path.join(store, 'snapshots', e2.id, 'snapshot.json'), 'utf8'))).toMatchObject({ session: sessionId });
    process.kill(-h.proc.pid!, 'SIGKILL');
    await h.exited;
    await waitUntil(() => !fs.existsSync(`/proc/${trainer}`), 'the killed trainer to be gone');
    const torn = await tornBackupAfterTheCrash(w);

    const r = await runToEnd(['run', '--resume', '--config', w.cfg, '--', process.execPath, w.trainer, '--epochs', '0', '--exit', '1', '--label', 'r'], w.env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('ckptd or the machine went down');
    expect(trainerStart(w.out, 'r').env.CKPTD_RESTORED_ID).toBe(e2.id);
    expect(fs.readFileSync(path.join(w.run, 'model.bin'), 'utf8')).toBe(epochModel(2));
    expect((await backups(w)).map((b) => b.id)).toContain(torn);
  });

  /** A world whose run holds epoch `e` (model, state and a log), with no backup policy of its own. */
  function incompleteWorld(): { w: World; capture: (e: number, leaveOutLog: boolean, ago: number) => Promise<{ id: string; incomplete?: boolean }> } {
    const w = world('{every: never}');
    const run = loadConfigFile(w.cfg).runs[0]!;
    const capture = async (e: number, leaveOutLog: boolean, ago: number): Promise<{ id: string; incomplete?: boolean }> => {
      fs.writeFileSync(path.join(w.run, 'model.bin'), epochModel(e));
      fs.writeFileSync(path.join(w.run, 'state.json'), JSON.stringify({ epoch: e, step: e * 100 }));
      fs.writeFileSync(path.join(w.run, 'train.log'), `log up to epoch ${e}\n`);
      // A log that kept changing is left out: the backup is incomplete.
      const entries = (await scanRun(run)).filter((x) => !leaveOutLog || x.path !== 'train.log');
      const neverSettled = leaveOutLog ? [{ path: 'train.log', reason: 'kept changing' }] : [];
      const progress = { epoch: e, step: e * 100, loss: null, metrics: {}, source: null };
      return captureSnapshot(run, entries, { kind: 'backup', trigger: 'test', progress, now: Date.now() - ago, neverSettled }, silentLogger);
    };
    return { w, capture };
  }

  /** A training started on the run fails at once; then the model is torn and `--resume` runs. */
  async function failThenResume(w: World): Promise<{ stderr: string; restored: string | undefined }> {
    const a = await runToEnd(['run', '--config', w.cfg, '--', process.execPath, w.trainer, '--epochs', '0', '--exit', '1', '--label', 'a'], w.env);
    expect(a.code, a.stderr).toBe(1);
    fs.writeFileSync(path.join(w.run, 'model.bin'), 'torn half-written model');
    const r = await runToEnd(['run', '--resume', '--config', w.cfg, '--', process.execPath, w.trainer, '--epochs', '0', '--exit', '1', '--label', 'r'], w.env);
    expect(r.code, r.stderr).toBe(1);
    return { stderr: r.stderr, restored: trainerStart(w.out, 'r').env.CKPTD_RESTORED_ID };
  }

  it('a complete backup before a newer one that left files out', async () => {
    const { w, capture } = incompleteWorld();
    const complete = await capture(1, false, 2000);
    const incomplete = await capture(2, true, 1000);
    expect(incomplete.incomplete).toBe(true);
    const r = await failThenResume(w);
    expect(r.restored, r.stderr).toBe(complete.id);
    expect(fs.readFileSync(path.join(w.run, 'model.bin'), 'utf8')).toBe(epochModel(1));
    expect(r.stderr).toContain(`backup ${incomplete.id} is newer but incomplete`);
  });

  it('the newest incomplete one when none is complete, saying what it lacks', async () => {
    const { w, capture } = incompleteWorld();
    await capture(1, true, 2000);
    const newest = await capture(2, true, 1000);
    const r = await failThenResume(w);
    expect(r.restored, r.stderr).toBe(newest.id);
    expect(fs.readFileSync(path.join(w.run, 'model.bin'), 'utf8')).toBe(epochModel(2));
    expect(r.stderr).toContain(`backup ${newest.id} is incomplete (left out: train.log)`);
  });
});
