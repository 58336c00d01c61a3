/**
 * A training script that reports its progress with `ckptd progress` (`.ckptd-progress.json`,
 * written atomically through a temp file) more often than `settle`: those reports are not files
 * of the state, so they must not keep the state from settling. A backup of the settled model is
 * taken while they go on, complete, with the progress they reported. And a report is looked at
 * when it is written, whatever `include` says: a step reported after the model was saved is backed
 * up by `every N steps` at once, not after the next rescan (a minute later, the model moved on).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeProgressFile } from '../../src/cli/progress.js';
import { startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A run folder holding `model.bin` (`model`), and a config with the run's keys `runYaml` added. */
function trainRun(model: string, runYaml: string): { t: { dir: string }; runDir: string; cfg: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const runDir = path.join(t.dir, 'run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'model.bin'), model);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, `log:\n  level: debug\n  format: json\nruns:\n  - name: train\n    path: ${runDir}\n    progress: auto\n${runYaml}    retention: {min_free: 1MB}\n`);
  return { t, runDir, cfg };
}

describe('progress reported more often than settle', () => {
  it('does not keep the model from being backed up', async () => {
    const { t, runDir, cfg } = trainRun('step 0', '    settle: 1s\n    backup: {every: always}\n');

    // The script reports a step every 50 ms, from before the daemon starts until the test ends.
    let step = 0;
    let reporting = true;
    const reports = (async () => {
      while (reporting) {
        await writeProgressFile(runDir, { step: ++step }, Date.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    cleanups.push(() => ((reporting = false), reports));

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');
    // A new model while the reports go on (the state found at the start may be backed up or not).
    fs.writeFileSync(path.join(runDir, 'model.bin'), 'step 100');

    const holdsNewModel = (l: (typeof d.lines)[number]): boolean =>
      l.event === 'snapshot' && fs.readFileSync(path.join(t.dir, '.ckptd', 'train', 'snapshots', String(l.id), 'files', 'model.bin'), 'utf8') === 'step 100';
    const taken = await d.waitFor(holdsNewModel, 20_000, 'a backup of the new model');
    expect(taken.step).toBeGreaterThan(0);
    expect(d.lines.filter((l) => l.event === 'skipped' || l.event === 'never-settles' || l.event === 'keeps-changing')).toEqual([]);
  }, 60_000);

  it('is judged when it is reported, though include does not name it', async () => {
    const { runDir, cfg } = trainRun('step 2', '    include: ["*.bin"]\n    settle: 300ms\n    backup: {every: 2 steps}\n');
    await writeProgressFile(runDir, { step: 1 }, Date.now());

    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'evaluated' && l.step === 1, 20_000, 'the evaluation at step 1');
    // Once a change is seen through the watch (it is in place), the script reports step 2.
    const seen = d.lines.length;
    fs.writeFileSync(path.join(runDir, 'notes.bin'), 'notes');
    await d.waitFor((l) => d.lines.indexOf(l) >= seen && l.event === 'evaluated', 20_000, 'the evaluation of notes.bin');
    await writeProgressFile(runDir, { step: 2 }, Date.now());

    const taken = await d.waitFor((l) => l.event === 'snapshot' && l.kind === 'backup', 20_000, 'the backup at step 2');
    expect([taken.trigger, taken.step]).toEqual(['every 2 steps', 2]);
  }, 60_000);
});
