/**
 * A `save.to` the user ckptd runs as may not write (a folder another user owns): the save fails
 * saying which folder, who ckptd runs as and what to do, as a store it may not write does (SPEC
 * section 6: a clear message), not only with the system call's EACCES; nothing is left in save.to,
 * no save record appears, the daemon keeps running and its backups are kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';
import { testCleanups } from '../helpers/test-cleanups.js';
import { withoutDacCapabilities } from '../helpers/unprivileged.js';

describe('a save.to ckptd may not write', () => {
  it('fails the save naming save.to and the fix; nothing is left there and the daemon goes on', async (ctx) => {
    const cleanup = testCleanups(ctx);
    const t = tempDir('ckptd-save-to-');
    cleanup(t.cleanup);
    const run = path.join(t.dir, 'run');
    const saves = path.join(t.dir, 'saves');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.mkdirSync(run);
    fs.mkdirSync(saves, { mode: 0o555 });
    fs.chmodSync(saves, 0o555);
    cleanup(() => fs.chmodSync(saves, 0o755));
    fs.writeFileSync(
      cfg,
      `log: {format: json}\nruns:\n  - {name: r, path: ${run}, store: ${path.join(t.dir, 'store')}, settle: 200ms, progress: none, backup: {every: always}, save: {every: always, files: ["*.safetensors"], to: ${saves}}, retention: {min_free: 0}}\n`,
    );
    const d = startDaemon(['daemon', '--config', cfg], {}, withoutDacCapabilities());
    cleanup(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    fs.writeFileSync(path.join(run, 'model.safetensors'), 'weights 1');
    const failed = await d.waitFor((l) => l.level === 'error' && l.run === 'r', 20_000, 'the failed save');
    // A save failed, not a snapshot: the backup before it was taken and kept.
    expect(failed.message).toMatch(/^save failed, nothing stored was changed: /);
    expect(failed.message).toContain(`cannot write save.to ${saves}`);
    expect(failed.message).toContain(`give it write access to ${saves}, or set save.to to a folder it may write`);
    expect(fs.readdirSync(saves)).toEqual([]);
    const list = await runCli(['list', '--json', '--config', cfg]);
    const kinds = (JSON.parse(list.stdout) as { kind: string }[]).map((r) => r.kind);
    expect(kinds).toContain('backup');
    expect(kinds).not.toContain('save');
    expect(d.proc.exitCode).toBeNull();
  });
});
