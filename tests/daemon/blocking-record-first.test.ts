/**
 * What the daemon says of a file that keeps the run from settling, `ckptd status` says too, from
 * the moment it is said: the store's record is written before the log line, so a person (or a
 * script) who reads the line and runs `ckptd status` finds it there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { zeroConfig } from '../../src/config/zero-config.js';
import { BlockingFiles } from '../../src/daemon/blocking-files.js';
import { blockingFile } from '../../src/store/layout.js';
import type { Logger } from '../../src/util/logger.js';

let dir = '';
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a file that keeps the state from settling', () => {
  it('is in the store record for status when the warning is logged, and when it is left out', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-blocking-'));
    fs.mkdirSync(path.join(dir, 'run'));
    fs.mkdirSync(path.join(dir, 'store'));
    const run = { ...zeroConfig(path.join(dir, 'run'), path.join(dir, 'store')).runs[0]!, settleMs: 100 };
    const seenAtLog: Record<string, boolean> = {};
    const logger: Logger = {
      warn(_m, f) {
        const event = String(f?.event);
        const record = fs.existsSync(blockingFile(run.store)) ? fs.readFileSync(blockingFile(run.store), 'utf8') : '';
        seenAtLog[event] = record.includes('train.log');
      },
      error() {},
      info() {},
      debug() {},
      child: () => logger,
    };
    const blocking = new BlockingFiles(logger);
    // The trainer appends to train.log at every look, for 35 settle windows.
    const t0 = Date.now();
    for (let i = 0; i <= 35; i++) {
      const now = t0 + i * run.settleMs;
      blocking.noteActivity('train.log', now - 10);
      await blocking.look(run, [], now);
    }
    expect(seenAtLog).toEqual({ 'keeps-changing': true, 'never-settles': true });
  });
});
