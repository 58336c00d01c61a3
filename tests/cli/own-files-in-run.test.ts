/**
 * SPEC section 3: "the store, ckptd's own files and common temp names are always excluded". The
 * config file, `log.file` and `metrics.file` are ckptd's own files: `ckptd init` run in the run
 * folder writes `./ckptd.yaml` there, and a log file beside it would otherwise be captured by every
 * backup (with `every: always`, each backup's log line is a change that makes the next backup), and
 * a restore would put back an old config over the one in force.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';

/** A run folder holding its own config (`ckptd.yaml`), which names a log and a metrics file inside it too. */
function runWithConfigInside(cleanup: (c: () => unknown) => void, every: string): { run: string; config: string } {
  const { dir, cleanup: removeDir } = tempDir('ckptd-own-files-');
  cleanup(removeDir);
  const run = path.join(dir, 'out');
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'model.pt'), 'weights');
  const config = path.join(run, 'ckptd.yaml');
  fs.writeFileSync(
    config,
    [
      'log:',
      '  file: ./ckptd.log',
      '  format: json',
      'metrics:',
      '  file: ./ckptd.prom',
      'runs:',
      '  - name: out',
      '    path: .',
      '    settle: 200ms',
      '    backup:',
      `      every: ${every}`,
      '',
    ].join('\n'),
  );
  return { run, config };
}

async function manifestPaths(config: string, id: string): Promise<string[]> {
  const shown = await runCli(['show', id, '--json', '--config', config]);
  expect(shown.code, shown.stderr).toBe(0);
  return (JSON.parse(shown.stdout) as { files: { path: string }[] }).files.map((f) => f.path);
}

describe("ckptd's own files inside the run folder", () => {
  it('a snapshot leaves out the config file, log.file and metrics.file', async ({ onTestFinished }) => {
    const { run, config } = runWithConfigInside(testCleanups({ onTestFinished }), 'never');
    fs.writeFileSync(path.join(run, 'ckptd.log'), 'an older log line\n');
    fs.writeFileSync(path.join(run, 'ckptd.prom'), 'ckptd_snapshots_total 1\n');
    const snap = await runCli(['snapshot', '--json', '--config', config]);
    expect(snap.code, snap.stderr).toBe(0);
    const { id } = JSON.parse(snap.stdout) as { id: string };
    expect(await manifestPaths(config, id)).toEqual(['model.pt']);
  });

  it('a restore leaves the config in force as it is', async ({ onTestFinished }) => {
    const { run, config } = runWithConfigInside(testCleanups({ onTestFinished }), 'never');
    const snap = await runCli(['snapshot', '--json', '--config', config]);
    expect(snap.code, snap.stderr).toBe(0);
    const { id } = JSON.parse(snap.stdout) as { id: string };
    const edited = fs.readFileSync(config, 'utf8').replace('settle: 200ms', 'settle: 300ms');
    fs.writeFileSync(config, edited);
    fs.writeFileSync(path.join(run, 'model.pt'), 'newer weights');
    const restored = await runCli(['restore', id, '--yes', '--config', config]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(fs.readFileSync(path.join(run, 'model.pt'), 'utf8')).toBe('weights');
    expect(fs.readFileSync(config, 'utf8')).toBe(edited);
  });

  it("the daemon's backups never hold its own log file", async ({ onTestFinished }) => {
    const cleanup = testCleanups({ onTestFinished });
    const { run, config } = runWithConfigInside(cleanup, 'always');
    const daemon = startDaemon(['daemon', '--config', config]);
    cleanup(() => daemon.stop());
    const first = await daemon.waitFor((l) => l.event === 'snapshot', 30_000, 'the first backup');
    // The daemon has logged to ./ckptd.log (inside the run) since it started.
    expect(fs.existsSync(path.join(run, 'ckptd.log'))).toBe(true);
    expect(await manifestPaths(config, String(first.id))).toEqual(['model.pt']);
  });
});
