/**
 * A large file of a checkpoint folder still being saved (the Hugging Face Trainer's `optimizer.pt`,
 * written for longer than a few settle windows) is part of that save, not a file to leave out:
 * neither the log nor `ckptd status` tells the person to add it, or its folder, to `exclude`
 * (that would drop every checkpoint's optimizer state, or the checkpoint, from the backups). The
 * log names the folder as a save not finished; `status` says the same.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

const state = (step: number): string => JSON.stringify({ epoch: step, global_step: step, log_history: [{ epoch: step, loss: 1 / step, step }] });

/** Writes `rel` under `dir` with an mtime a minute ago (an earlier, settled save). */
function writeOld(dir: string, rel: string, data: string): void {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
}

describe('a checkpoint file written for many settle windows', () => {
  it('is reported as part of a save not finished, never with advice to exclude it', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir('ckptd-checkpoint-file-saved-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'out');
    writeOld(run, 'checkpoint-1/model.safetensors', 'model 1');
    writeOld(run, 'checkpoint-1/optimizer.pt', 'optimizer 1');
    writeOld(run, 'checkpoint-1/trainer_state.json', state(1));
    writeOld(run, 'checkpoint-2/model.safetensors', 'model 2');
    const stop = path.join(t.dir, 'stop');
    // The trainer holds optimizer.pt open and writes it until told to stop, then writes trainer_state.json.
    const code = `const fs=require('fs'),p=require('path');const d=${JSON.stringify(path.join(run, 'checkpoint-2'))};
const fd=fs.openSync(p.join(d,'optimizer.pt'),'w');
const tick=()=>{if(fs.existsSync(${JSON.stringify(stop)})){fs.closeSync(fd);fs.writeFileSync(p.join(d,'trainer_state.json'),${JSON.stringify(state(2))});return;}fs.writeSync(fd,'x'.repeat(1024));setTimeout(tick,20);};tick();`;
    const trainer = spawn(process.execPath, ['-e', code], { stdio: 'inherit' });
    const exited = new Promise<number | null>((resolve) => trainer.on('exit', resolve));
    cleanup(() => {
      fs.writeFileSync(stop, '');
      return exited;
    });
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'log: {format: json, level: debug}\nruns:\n  - name: hf\n    path: ./out\n    progress: hf\n    settle: 100ms\n    backup: {every: always}\n    retention: {min_free: 1MB}\n');
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanup(() => d.stop());

    // The folder goes hot after 30 windows; the file, written at every look, was reported long before.
    await d.waitFor((l) => l.event === 'never-settles' && l.path === 'checkpoint-2', 30_000, 'checkpoint-2 left out');
    const status = await runCli(['status', '--config', cfg]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/checkpoint-2 .*trainer_state\.json/);
    expect(status.stdout).not.toMatch(/exclude/);

    fs.writeFileSync(stop, '');
    expect(await exited).toBe(0);
    await d.waitFor((l) => l.event === 'snapshot' && l.step === 2, 30_000, 'the backup of checkpoint-2');
    expect(await d.stop()).toBe(0);
    const reports = d.lines.filter((l) => l.event === 'keeps-changing' || l.event === 'never-settles');
    expect(reports.map((l) => l.path)).toContain('checkpoint-2');
    for (const l of reports) expect(l.message).not.toMatch(/exclude/);
  });
});
