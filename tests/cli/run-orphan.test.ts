/**
 * `ckptd run` after its predecessor was killed with SIGKILL while the trainer its wrapper started
 * still ran (SPEC section 7): CMD (`sh -c 'node trainer ...; echo done'`) is gone, but the trainer
 * it left lives on and writes the run, so the next `ckptd run` refuses (exit 3) to restore or start
 * anything under it, naming it, until it has ended.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runToEnd, startRun, trainerFolders, trainerStart, waitForFile } from '../helpers/run-process.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const kill = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
};

describe('ckptd run after a kill -9 of ckptd and of the wrapper CMD', () => {
  it('refuses to start while the trainer the wrapper left runs, then starts once it has ended', async () => {
    const t = trainerFolders('ckptd-run-orphan-');
    cleanups.push(t.cleanup);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, 'log: {format: json, level: debug}\nruns:\n  - name: r\n    path: ./run\n    settle: 200ms\n    backup: {every: never}\n');
    const store = path.join(t.dir, '.ckptd', 'r');

    // `; echo done`: the shell forks the trainer instead of becoming it.
    const h = startRun(['run', '--config', cfg, '--', 'sh', '-c', `'${process.execPath}' '${t.trainer}' --trap --label o; echo done`], t.env);
    cleanups.push(() => kill(h.proc.pid!));
    await waitForFile(path.join(t.out, 'o.ready'));
    const trainer = trainerStart(t.out, 'o').pid;
    cleanups.push(() => kill(trainer));
    await waitForFile(path.join(store, 'session.json'));
    const wrapper = (JSON.parse(fs.readFileSync(path.join(store, 'session.json'), 'utf8')) as { trainer_pid: number }).trainer_pid;
    expect(wrapper).not.toBe(trainer);

    // Once ckptd has seen the trainer, the wrapper is killed: ckptd waits for the trainer it left...
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-processes'), "ckptd to see the wrapper's trainer");
    kill(wrapper);
    await waitUntil(() => h.lines().some((l) => l.event === 'trainer-outlived'), 'ckptd to wait for the trainer the wrapper left');
    // ... and is killed too: the trainer runs on, orphaned, with nobody backing it up.
    kill(h.proc.pid!);
    await h.exited;
    expect(fs.existsSync(`/proc/${trainer}`)).toBe(true);

    const refused = await runToEnd(['run', '--resume', '--config', cfg, '--', process.execPath, t.trainer, '--epochs', '0', '--label', 'o2'], t.env);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`still running (pid ${trainer}`);
    expect(fs.existsSync(path.join(t.out, 'o2.start.json'))).toBe(false);

    kill(trainer);
    await waitUntil(() => !fs.existsSync(`/proc/${trainer}`), 'the trainer to be gone');
    const started = await runToEnd(['run', '--resume', '--config', cfg, '--', process.execPath, t.trainer, '--epochs', '0', '--label', 'o3'], t.env);
    expect(started.code, started.stderr).toBe(0);
  });
});
