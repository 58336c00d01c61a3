/**
 * Names that are not valid UTF-8 cannot be captured (manifests are JSON strings), but they are
 * never dropped silently: the snapshot records them in `left_out`, the capture logs a warning,
 * `status` warns naming them, and the panel's records carry them. The snapshot stays complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { EventHub } from '../../src/ui/event-stream.js';
import { PanelApi } from '../../src/ui/panel-api.js';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

const REASON = 'the name is not valid UTF-8: rename it to capture it';

describe('names that are not valid UTF-8', () => {
  it('are listed as left out in snapshot.json, the log, status and the panel, and verify stays ok', async () => {
    const t = tempDir('ckptd-left-out-');
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    const store = path.join(t.dir, 'store');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'ok.bin'), 'ok');
    const runBuf = Buffer.from(runDir);
    fs.writeFileSync(Buffer.concat([runBuf, Buffer.from('/model'), Buffer.from([0xff]), Buffer.from('.bin')]), 'm');
    const folder = Buffer.concat([runBuf, Buffer.from('/ckpt-'), Buffer.from([0xe9]), Buffer.from('t'), Buffer.from([0xe9])]);
    fs.mkdirSync(folder);
    fs.writeFileSync(Buffer.concat([folder, Buffer.from('/weights.pt')]), 'w');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, `runs:\n  - name: run\n    path: ${runDir}\n    store: ${store}\n    settle: 100ms\n    progress: none\n    retention: {min_free: 0}\n`);

    const snap = await runCli(['snapshot', '--config', cfg, '--json']);
    expect(snap.code, snap.stderr).toBe(0);
    const id = (JSON.parse(snap.stdout) as { id: string }).id;
    const meta = JSON.parse(fs.readFileSync(path.join(store, 'snapshots', id, 'snapshot.json'), 'utf8')) as {
      files: { path: string }[];
      skipped: unknown[];
      left_out: { path: string; reason: string }[];
    };
    expect(meta.files.map((f) => f.path)).toEqual(['ok.bin']);
    expect(meta.skipped).toEqual([]);
    expect(meta.left_out).toEqual([
      { path: 'ckpt-\\xe9t\\xe9/', reason: REASON },
      { path: 'model\\xff.bin', reason: REASON },
    ]);
    expect(snap.stdout + snap.stderr).toContain(`left out model\\xff.bin: ${REASON}`);

    const status = await runCli(['status', '--config', cfg, '--json']);
    const warnings = (JSON.parse(status.stdout) as { runs?: { warnings: string[] }[] } & { warnings?: string[] });
    const all = JSON.stringify(warnings);
    expect(all).toContain('left out of every snapshot');
    expect(all).toContain('model\\\\xff.bin');
    expect(all).toContain('ckpt-\\\\xe9t\\\\xe9/');
    expect(all).toContain(REASON);

    const hub = new EventHub();
    cleanups.push(() => hub.close());
    const api = new PanelApi(loadConfigFile(cfg), hub);
    const records = await api.records('run');
    expect(records.records[0]).toMatchObject({ id, left_out: meta.left_out });

    const verify = await runCli(['verify', '--config', cfg]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
