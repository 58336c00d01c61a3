/**
 * Which backup `ckptd run --resume` restores (SPEC section 7), with real processes: a complete
 * backup before a newer one that left files out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { runToEnd, trainerFolders, trainerStart } from '../helpers/run-process.js';
import { silentLogger } from '../../src/util/logger.js';

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

const epochModel = (e: number): string => `model after epoch ${e}\n`.repeat(2000);

describe('ckptd run --resume picks a backup', () => {
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
