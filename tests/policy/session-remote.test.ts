/**
 * `ckptd run --resume` on a fresh machine resumes from the remote (issue 13): when. Which backup:
 * the local store's rule (`resume-candidates.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { resumeFromRemote, type SessionRecord } from '../../src/policy/session.js';

/** A session record that finished (or not), with `last_finished`. */
const session = (finished: boolean, lastFinished: string | null = null): SessionRecord => ({
  format: 1,
  run: 'r',
  started: '2026-01-02T00:00:00.000Z',
  pid: 1,
  host: 'h',
  boot_id: null,
  command: ['train'],
  cwd: '/',
  trainer_pid: 2,
  trainer_start_ticks: null,
  restored_id: null,
  finished,
  ended: '2026-01-03T00:00:00.000Z',
  exit_code: finished ? 0 : 1,
  signal: null,
  stopped_by: null,
  last_finished: lastFinished,
});

describe('resumeFromRemote', () => {
  const rows: [resume: boolean, hasRemote: boolean, localBackups: number, previous: SessionRecord | null, yes: boolean][] = [
    [true, true, 0, null, true],
    [true, true, 0, session(false), true],
    [true, true, 1, null, false],
    [true, false, 0, null, false],
    [false, true, 0, null, false],
    // A finished training's backups are on the remote; its local ones went with delete_on_finish.
    [true, true, 0, session(true), false],
  ];
  for (const [resume, hasRemote, local, previous, yes] of rows) {
    const prev = previous === null ? 'no session' : previous.finished ? 'a finished session' : 'an interrupted session';
    it(`--resume ${resume}, remote ${hasRemote}, ${local} local backup(s), ${prev} → ${yes ? 'from the remote' : 'not from the remote'}`, () => {
      const d = resumeFromRemote(resume, hasRemote, local, previous);
      expect(d.yes).toBe(yes);
      expect(d.reason === null).toBe(!yes);
    });
  }
});
