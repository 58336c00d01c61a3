/**
 * A checkpoint written for longer than 30 settle windows is left out of the backup taken meanwhile
 * (it "never settles", see README "A file that never settles"); once it has settled, the daemon
 * takes a backup that holds it at once, instead of leaving that epoch's only backup incomplete until
 * the policy fires again (an epoch later, or 30 minutes).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

describe('a checkpoint slower to write than 30 settle windows', () => {
  it('is left out of the backup taken meanwhile, and backed up as soon as it has settled', async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const t = tempDir('ckptd-slow-write-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'progress.json'), JSON.stringify({ epoch: 1 }));
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      `log: {format: json}\nruns:\n  - name: train\n    path: ./run\n    settle: 200ms\n    progress: {file: progress.json, epoch: epoch}\n    backup: {every: 1 epochs, keep: 5}\n`,
    );
    // The trainer's model write: 1 KiB every 20 ms for ~12 s, held open (60 settle windows).
    const model = path.join(run, 'model.bin');
    const writer = spawn(process.execPath, ['-e', `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(model)},'w');let n=0;const t=setInterval(()=>{fs.writeSync(fd,Buffer.alloc(1024,n%256));if(++n===600){clearInterval(t);fs.closeSync(fd);}},20);`], { stdio: 'ignore' });
    cleanup(() => void writer.kill('SIGKILL'));
    const writerDone = new Promise<void>((resolve) => writer.on('exit', () => resolve()));
    // Started mid-write: its first look sees the model being written.
    await new Promise((r) => setTimeout(r, 500));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanup(() => d.stop());
    const first = await d.waitFor((l) => l.event === 'snapshot', 30_000, 'the backup taken while the model was written');
    const shownFirst = JSON.parse((await runCli(['show', String(first.id), '--json', '--config', cfg])).stdout) as { skipped: { path: string }[] };
    expect(shownFirst.skipped.map((s) => s.path)).toEqual(['model.bin']);
    await writerDone;
    const second = await d.waitFor((l) => l.event === 'snapshot' && l.id !== first.id, 20_000, 'the backup once the model settled');
    const shown = JSON.parse((await runCli(['show', String(second.id), '--json', '--config', cfg])).stdout) as { trigger: string; epoch: number; skipped: unknown[]; files: { path: string; size: number }[] };
    expect(shown.trigger).toBe('completes');
    expect(shown.epoch).toBe(1);
    expect(shown.skipped).toEqual([]);
    expect(shown.files.find((f) => f.path === 'model.bin')?.size).toBe(600 * 1024);
    expect(await d.stop()).toBe(0);
  }, 90_000);
});
