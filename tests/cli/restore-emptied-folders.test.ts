/**
 * A restore removes the folders its own removals emptied. Trainers that resume from "the newest
 * checkpoint folder" pick it by name among the folders there, whatever they hold: the Hugging Face
 * Trainer's `get_last_checkpoint` (`checkpoint-N`, the highest N), OneTrainer's
 * `get_last_backup_path` (the last `backup/<timestamp>-backup-...` by name). A restore of the
 * epoch-2 backup that removed the files of a later `checkpoint-300/` but left the folder made the
 * resumed trainer pick that empty folder and fail ("Can't find a valid checkpoint"). A folder that
 * still holds something (a file the config leaves out) stays, and so does a folder that was empty
 * before the restore: it removed nothing from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

/** Writes `rel` in `run` with an mtime a minute ago (settled at once). */
function write(run: string, rel: string, data: string): void {
  const file = path.join(run, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
}

describe('restore into the run', () => {
  it('removes the checkpoint folders it emptied, and only those', async () => {
    const t = tempDir('ckptd-restore-emptied-folders-');
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'out');
    write(run, 'checkpoint-200/model.safetensors', 'weights 200');
    write(run, 'checkpoint-200/trainer_state.json', '{"global_step": 200, "epoch": 2}');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'runs:\n  - name: r\n    path: ./out\n    settle: 100ms\n    progress: none\n    exclude: ["**/*.log"]\n');
    const snap = await runCli(['--config', cfg, 'snapshot']);
    expect(snap.code, snap.stderr).toBe(0);

    // The training went on: a whole checkpoint-300/ (with a subfolder), one it died saving, a
    // folder holding a file the config leaves out, and an empty folder of the person's own.
    write(run, 'checkpoint-300/model.safetensors', 'weights 300');
    write(run, 'checkpoint-300/global_step300/mp_rank_00_model_states.pt', 'ds 300');
    write(run, 'checkpoint-300/trainer_state.json', '{"global_step": 300, "epoch": 3}');
    write(run, 'checkpoint-400/model.safetensors', 'half of weights 400');
    write(run, 'checkpoint-400/train.log', 'not part of the state');
    fs.mkdirSync(path.join(run, 'data'));

    const r = await runCli(['--config', cfg, 'restore', snap.stdout.trim(), '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(run).sort()).toEqual(['checkpoint-200', 'checkpoint-400', 'data']);
    expect(fs.readdirSync(path.join(run, 'checkpoint-400'))).toEqual(['train.log']);
    expect(fs.readFileSync(path.join(run, 'checkpoint-200/model.safetensors'), 'utf8')).toBe('weights 200');
  });
});
