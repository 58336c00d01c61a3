/**
 * The daemon's record of failing backups (`last-failure.json`): attempts counted since the first
 * failure, removed by a success, and a record that cannot be written never fails the daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureRecord } from '../../src/daemon/failure-record.js';
import { readFailureNote } from '../../src/store/failure-note.js';
import type { Logger } from '../../src/util/logger.js';
import { tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function recording(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger & { warnings: string[] } = { warnings, error() {}, warn: (m) => warnings.push(m), info() {}, debug() {}, child: () => logger };
  return logger;
}

/** A record kept in a fresh store folder. */
function freshRecord(): { dir: string; record: FailureRecord } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return { dir: t.dir, record: new FailureRecord(() => t.dir, recording()) };
}

describe('FailureRecord', () => {
  it('counts the attempts since the first failure and is removed by a success', async () => {
    const { dir, record } = freshRecord();
    await record.failed('error', 'cannot read secret.bin', Date.parse('2026-01-01T10:00:00Z'), 30_000);
    await record.failed('low-disk', 'disk low', Date.parse('2026-01-01T10:00:30Z'), 30_000);
    expect(await readFailureNote(dir)).toEqual({
      since: '2026-01-01T10:00:00.000Z',
      at: '2026-01-01T10:00:30.000Z',
      attempts: 2,
      kind: 'low-disk',
      message: 'disk low',
      retrying_at: '2026-01-01T10:01:00.000Z',
    });
    await record.evaluated();
    expect(await readFailureNote(dir)).not.toBeNull();
    await record.succeeded();
    expect(fs.existsSync(path.join(dir, 'last-failure.json'))).toBe(false);
  });

  it('stands while a backup failure stands: an evaluation that fails, then one that completes, does not remove it', async () => {
    const { dir, record } = freshRecord();
    await record.failed('error', 'cannot read secret.bin', Date.parse('2026-01-01T10:00:00Z'), 30_000);
    await record.failed('evaluation', 'scan failed: EIO', Date.parse('2026-01-01T10:00:10Z'), 30_000);
    // The evaluation after completes without taking a backup (nothing changed, nothing due).
    await record.evaluated();
    expect(await readFailureNote(dir)).toMatchObject({ since: '2026-01-01T10:00:00.000Z', attempts: 2 });
    await record.failed('error', 'cannot read secret.bin', Date.parse('2026-01-01T10:00:40Z'), 30_000);
    expect(await readFailureNote(dir)).toMatchObject({ since: '2026-01-01T10:00:00.000Z', attempts: 3, kind: 'error' });
    await record.succeeded();
    expect(fs.existsSync(path.join(dir, 'last-failure.json'))).toBe(false);
  });

  it('of failed evaluations alone is removed by the next evaluation that completes', async () => {
    const { dir, record } = freshRecord();
    await record.failed('evaluation', 'scan failed: EIO', Date.parse('2026-01-01T10:00:00Z'), 30_000);
    await record.failed('evaluation', 'scan failed: EIO', Date.parse('2026-01-01T10:00:30Z'), 30_000);
    expect(await readFailureNote(dir)).toMatchObject({ attempts: 2, kind: 'evaluation' });
    await record.evaluated();
    expect(fs.existsSync(path.join(dir, 'last-failure.json'))).toBe(false);
  });

  it('logs once, and throws nothing, when the record cannot be written', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const notAFolder = path.join(t.dir, 'file');
    fs.writeFileSync(notAFolder, '');
    const logger = recording();
    const record = new FailureRecord(() => notAFolder, logger);
    await record.failed('error', 'first', Date.now(), 30_000);
    await record.failed('error', 'second', Date.now(), 30_000);
    await record.succeeded();
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/could not record the failure/);
  });
});
