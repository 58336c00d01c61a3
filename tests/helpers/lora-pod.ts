/**
 * A machine of the remote tests: a temp folder with a run folder `run/` and a config whose one run,
 * `lora`, reads its step from `state.json` and (with `s3Remote`) pushes to a test S3 server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './daemon-process.js';

export interface LoraPod {
  dir: string;
  run: string;
  /** The run's local store (the default place). */
  store: string;
  cfg: string;
}

/**
 * Makes a pod; `top` is the config's top-level YAML before `runs:` (`log:`, `remote:`), `backup`
 * the run's backup policy (flow YAML). `cleanups` (a list, or a test's own `testCleanups`) gets its removal.
 */
export function loraPod(o: { prefix: string; top: string; backup: string }, cleanups: { push(cleanup: () => unknown): unknown }): LoraPod {
  const t = tempDir(o.prefix);
  cleanups.push(t.cleanup);
  const run = path.join(t.dir, 'run');
  fs.mkdirSync(run);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    `${o.top}runs:\n  - name: lora\n    path: ./run\n    settle: 200ms\n    progress: {file: state.json, step: step}\n    backup: ${o.backup}\n    retention: {min_free: 0}\n`,
  );
  return { dir: t.dir, run, store: path.join(t.dir, '.ckptd', 'lora'), cfg };
}

/** The `remote:` block for `s3://BUCKET/team` on the test server at `endpoint`. */
export function s3Remote(bucket: string, endpoint: string): string {
  return `remote:\n  url: s3://${bucket}/team\n  endpoint: ${endpoint}\n  force_path_style: true\n`;
}

/** Writes the run at `step` (1 MiB encoder, small weights), aged a minute so it counts as settled at once. */
export function trainLora(run: string, step: number, weights = `weights at ${step}`): void {
  fs.writeFileSync(path.join(run, 'model.safetensors'), weights);
  fs.writeFileSync(path.join(run, 'encoder.bin'), Buffer.alloc(1 << 20, step % 256));
  fs.writeFileSync(path.join(run, 'state.json'), JSON.stringify({ step }));
  const past = new Date(Date.now() - 60_000 + step);
  for (const f of ['model.safetensors', 'encoder.bin', 'state.json']) fs.utimesSync(path.join(run, f), past, past);
}
