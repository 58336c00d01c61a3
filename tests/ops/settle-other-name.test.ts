/**
 * A trainer in a container, or writing through a bind mount, holds the run's file open under its
 * own path (`/workspace/out/model.safetensors`): `/proc/<pid>/fd` never shows the path ckptd
 * watches. It is a writer all the same (SPEC section 1, "settled"): the settled judgement, `ckptd
 * snapshot` and restore must see it. A hard link outside the run is the same inode under another
 * path, as a bind mount shows it; no root needed.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunConfig } from '../../src/config/types.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { restoreSnapshot } from '../../src/ops/restore.js';
import { captureSnapshot, scanRun } from '../../src/ops/run-actions.js';
import { judgeSettled, waitForSettled } from '../../src/ops/settle.js';
import { NO_PROGRESS } from '../../src/policy/types.js';
import type { Logger } from '../../src/util/logger.js';
import { sha256, sha256File } from '../store/fixtures.js';
import { startWriter, stopWriters } from '../helpers/halves-writer.js';

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };
const SIZE = 1 << 20;
const OLD = Buffer.alloc(SIZE, 1);
const NEW = Buffer.alloc(SIZE, 2);

let dirs: string[] = [];
afterEach(async () => {
  stopWriters();
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  dirs = [];
});

/**
 * A run holding `model.bin` (OLD, an old mtime) and `config.json`, its store, and `workspace/model.bin`
 * outside the run: the same inode, as the container sees the run's file.
 */
function setUp(): { run: RunConfig; model: string; other: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-settle-other-name-'));
  dirs.push(base);
  const runDir = path.join(base, 'run');
  const store = path.join(base, 'store');
  fs.mkdirSync(runDir);
  fs.mkdirSync(store);
  fs.mkdirSync(path.join(base, 'workspace'));
  const model = path.join(runDir, 'model.bin');
  fs.writeFileSync(model, OLD);
  fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
  for (const f of [model, path.join(runDir, 'config.json')]) ageFile(f);
  const other = path.join(fs.realpathSync(base), 'workspace', 'model.bin');
  fs.linkSync(model, other);
  const c = zeroConfig(runDir, store).runs[0]!;
  return { run: { ...c, settleMs: 50, retention: { ...c.retention, minFreeBytes: 0 } }, model, other };
}

/** Puts a file's mtime a minute back: only an open file can then tell that it is not finished. */
function ageFile(file: string): void {
  const t = new Date(Date.now() - 60_000);
  fs.utimesSync(file, t, t);
}

describe.skipIf(process.platform !== 'linux')('a writer holding a run file open under another name (a bind mount, a container)', () => {
  it('keeps the state from settling, naming the file, the pid, the command and the name it writes', async () => {
    const { run, model, other } = setUp();
    const writer = startWriter(other);
    await writer.said('half');
    ageFile(model);

    const verdict = await judgeSettled(run, await scanRun(run), 0, Date.now());

    expect(verdict).toEqual({ settled: false, retryInMs: 50, reason: `model.bin is open for writing by pid ${writer.proc.pid} (node) as ${other}` });
  });

  it('ckptd snapshot waits for the writer to finish and stores the whole new version', async () => {
    const { run, model, other } = setUp();
    const writer = startWriter(other);
    await writer.said('half');
    ageFile(model);

    // As `ckptd snapshot` does: wait until settled, then capture. Once the wait names the writer,
    // it may finish; until then it holds half a checkpoint open.
    const reasons: string[] = [];
    const entries = await waitForSettled(run, 60_000, (reason) => {
      if (reason.includes(`pid ${writer.proc.pid}`) && !reasons.some((r) => r.includes(`pid ${writer.proc.pid}`))) writer.go();
      reasons.push(reason);
    });
    const meta = await captureSnapshot(run, entries, { kind: 'manual', trigger: 'manual', progress: NO_PROGRESS, now: Date.now() }, quiet);

    expect(sha256File(path.join(meta.path, 'model.bin')), 'the stored model.bin is the finished version').toBe(sha256(NEW));
    expect(reasons).toContain(`model.bin is open for writing by pid ${writer.proc.pid} (node) as ${other}`);
    expect(meta.skipped).toEqual([]);
  });

  it('restore refuses while the writer holds the file open, naming it and the process', async () => {
    const { run, model, other } = setUp();
    const snap = await captureSnapshot(run, await scanRun(run), { kind: 'manual', trigger: 'manual', progress: NO_PROGRESS, now: Date.now() }, quiet);
    const writer = startWriter(other);
    await writer.said('half');
    ageFile(model);

    await expect(restoreSnapshot({ run, snapshot: snap, to: null, force: false, now: Date.now(), logger: quiet })).rejects.toThrow(
      `not restoring while the trainer is writing: model.bin is open for writing by pid ${writer.proc.pid} (node) as ${other}; stop the trainer first`,
    );
    writer.go();
    await writer.said('closed');
    expect(sha256File(model), 'the trainer\'s own version is left alone').toBe(sha256(NEW));
  });
});
