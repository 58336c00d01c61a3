/**
 * A run folder that is not there (deleted by mistake, or not written yet), driven through the CLI:
 * `ckptd restore ID --yes` puts the snapshot back into it (SPEC section 2: replace the run's state
 * with the snapshot's files), and `ckptd snapshot` fails saying what is wrong, not with an errno.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function configFor(): { run: string; config: string } {
  const { dir, cleanup } = tempDir('ckptd-run-missing-');
  cleanups.push(cleanup);
  const run = path.join(dir, 'output');
  const config = path.join(dir, 'ckptd.yaml');
  fs.writeFileSync(config, ['runs:', '  - name: r', '    path: ./output', '    store: ./store', '    settle: 200ms', ''].join('\n'));
  return { run, config };
}

describe('a run folder that is not there', () => {
  it('restore --yes writes the snapshot back into it', async () => {
    const { run, config } = configFor();
    fs.mkdirSync(path.join(run, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(run, 'model.pt'), 'weights');
    fs.writeFileSync(path.join(run, 'sub', 'state.json'), '{"step": 3}');
    const snap = await runCli(['snapshot', '--json', '--config', config]);
    expect(snap.code, snap.stderr).toBe(0);
    const { id } = JSON.parse(snap.stdout) as { id: string };
    fs.rmSync(run, { recursive: true });

    const restored = await runCli(['restore', id, '--yes', '--json', '--config', config]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ id, pre_restore: null, written: ['model.pt', 'sub/state.json'], removed: [] });
    expect(fs.readFileSync(path.join(run, 'model.pt'), 'utf8')).toBe('weights');
    expect(fs.readFileSync(path.join(run, 'sub', 'state.json'), 'utf8')).toBe('{"step": 3}');
  });

  it('snapshot fails (exit 1) naming the missing folder', async () => {
    const { run, config } = configFor();
    const snap = await runCli(['snapshot', '--config', config]);
    expect(snap.code).toBe(1);
    expect(snap.stderr).toContain(`nothing to capture: the run folder ${run} does not exist`);
    expect(snap.stderr).not.toContain('ENOENT');
  });
});
