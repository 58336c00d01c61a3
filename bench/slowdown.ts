/**
 * `npm run bench -- slowdown` (issue 15): what ckptd's backups cost the trainer beside it. The
 * training loop of `slowdown-trainer.ts` (every core busy with arithmetic, a batch read per step, a
 * 1.5 GB state of which 60% is rewritten at every checkpoint) runs three times on the same state:
 * alone, beside a daemon at `priority: low` that backs up every checkpoint, and beside one at
 * `priority: normal`. Step times exclude the checkpoint steps themselves (the trainer's own
 * writes, the same in every phase). Settings: BENCH_SLOWDOWN_GB (1.5), BENCH_SLOWDOWN_STEPS (300),
 * BENCH_SLOWDOWN_CHECKPOINT_EVERY (30), BENCH_SLOWDOWN_WORK (40: matrix products per step and core).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Priority } from '../src/policy/process-priority.js';
import { startDaemon } from './daemon.js';
import { cpuSeconds, envNumber, note, syncAll, writeRandom } from './lib.js';
import { heading, out, table, type Verdict } from './report.js';
import { buildState } from './state.js';

const TRAINER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slowdown-trainer.js');

interface Phase {
  name: string;
  p50: number;
  p99: number;
  mean: number;
  steps: number;
  backups: number;
  ckptdCpu: number | null;
}

export async function runSlowdown(base: string): Promise<Verdict[]> {
  const total = Math.round(envNumber('BENCH_SLOWDOWN_GB', 1.5) * 1e9);
  const steps = envNumber('BENCH_SLOWDOWN_STEPS', 300);
  const every = envNumber('BENCH_SLOWDOWN_CHECKPOINT_EVERY', 30);
  const work = envNumber('BENCH_SLOWDOWN_WORK', 40);
  const run = path.join(base, 'run');
  const state = buildState(run, total);
  state.newGeneration(0);
  const dataset = path.join(base, 'dataset.bin');
  writeRandom(dataset, 256 << 20);
  const trainerArgs = [
    TRAINER,
    '--run', run,
    '--dataset', dataset,
    '--steps', String(steps),
    '--checkpoint-every', String(every),
    '--work', String(work),
    '--files', state.changing.map(([rel, size]) => `${rel}=${size}`).join(','),
  ];

  const phases: Phase[] = [];
  phases.push(await phase('trainer alone', trainerArgs, null, base));
  phases.push(await phase('beside ckptd, priority: low', trainerArgs, 'low', base));
  phases.push(await phase('beside ckptd, priority: normal', trainerArgs, 'normal', base));

  heading(`slowdown: a ${(total / 1e9).toFixed(1)} GB state (${((state.changedBytes / total) * 100).toFixed(0)}% rewritten every ${every} steps), ${steps} steps on every core`);
  const alone = phases[0]!;
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  const vs = (x: number, y: number): string => `${((x / y - 1) * 100).toFixed(1)}%`;
  out(
    table(
      ['', 'step p50', 'step p99', 'mean', 'p50 slower', 'p99 slower', 'backups taken', 'ckptd CPU'],
      phases.map((p) => [p.name, ms(p.p50), ms(p.p99), ms(p.mean), p === alone ? '' : vs(p.p50, alone.p50), p === alone ? '' : vs(p.p99, alone.p99), p === alone ? '' : String(p.backups), p.ckptdCpu === null ? '' : `${p.ckptdCpu.toFixed(1)} s`]),
    ),
  );
  const low = phases[1]!;
  return [
    { target: 'p50 step time beside a backing-up daemon (priority low) within 5% of alone', met: low.backups > 0 ? low.p50 <= alone.p50 * 1.05 : null, detail: `${ms(low.p50)} vs ${ms(alone.p50)} (${vs(low.p50, alone.p50)}), ${low.backups} backups taken` },
    { target: 'p99 step time beside a backing-up daemon (priority low) within 25% of alone', met: low.backups > 0 ? low.p99 <= alone.p99 * 1.25 : null, detail: `${ms(low.p99)} vs ${ms(alone.p99)} (${vs(low.p99, alone.p99)})` },
  ];
}

/** One run of the training loop; beside a daemon at `priority` unless null. */
async function phase(name: string, trainerArgs: string[], priority: Priority | null, base: string): Promise<Phase> {
  note(`slowdown: ${name}`);
  syncAll();
  let daemon: ReturnType<typeof startDaemon> | null = null;
  if (priority !== null) {
    const config = path.join(base, `ckptd-${priority}.yaml`);
    const run = JSON.stringify(path.join(base, 'run'));
    fs.writeFileSync(config, `log: {level: info, format: json}\nruns:\n  - {name: bench, path: ${run}, store: ./store-${priority}, settle: 1s, progress: none, priority: ${priority}, backup: {every: always, keep: 2}, retention: {min_free: 1MB}}\n`);
    daemon = startDaemon(config);
    // The first backup copies the whole state: taken before the loop starts, as a daemon running
    // since before the training would have.
    await daemon.waitFor((l) => l.event === 'snapshot', 600_000, 'the first backup');
  }
  const from = daemon?.lines.length ?? 0;
  const cpu0 = daemon ? cpuSeconds(daemon.pid) : 0;
  const times = await trainer(trainerArgs);
  let backups = 0;
  let ckptdCpu: number | null = null;
  if (daemon) {
    // The last checkpoint's backup, so its cost is counted.
    await daemon.waitFor((l) => l.event === 'snapshot', 120_000, 'the last backup', daemon.lines.length).catch(() => undefined);
    ckptdCpu = cpuSeconds(daemon.pid) - cpu0;
    backups = daemon.lines.slice(from).filter((a) => a.line.event === 'snapshot').length;
    await daemon.stop();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { name, p50: pct(50), p99: pct(99), mean: times.reduce((a, b) => a + b, 0) / times.length, steps: times.length, backups, ckptdCpu };
}

/** Runs the training loop; the step times (ms) of every step that wrote no checkpoint. */
function trainer(args: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const times: number[] = [];
    let buf = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = JSON.parse(buf.slice(0, nl)) as { ms: number; checkpoint: boolean };
        buf = buf.slice(nl + 1);
        if (!line.checkpoint) times.push(line.ms);
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(times) : reject(new Error(`the training loop exited with ${code}`))));
  });
}
