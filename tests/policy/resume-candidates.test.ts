/**
 * Which backups `ckptd run --resume` may restore, in which order (SPEC section 7), one rule for
 * the local store and the remote: those of the interrupted training (since the last finished run,
 * up to the interrupted session's end, or, with no end recorded, those its own ckptd took),
 * complete ones first, then the ones that left files out.
 */
import { describe, expect, it } from 'vitest';
import { resumeCandidates, startSession, type ResumeCandidate, type SessionRecord } from '../../src/policy/session.js';

/** A backup taken at 10:MM of 2026-01-01. */
const at = (mm: number, over: Partial<ResumeCandidate> = {}): ResumeCandidate => ({
  id: `20260101-10${String(mm).padStart(2, '0')}00-000-aaaa`,
  kind: 'backup',
  created: `2026-01-01T10:${String(mm).padStart(2, '0')}:00.000Z`,
  epoch: mm,
  step: null,
  ...over,
});

/** A session started at 10:20 (session id `s2`), interrupted; ended at 10:40 unless `ended` says otherwise. */
const interrupted = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  ...startSession(null, {
    run: 'r',
    started: '2026-01-01T10:20:00.000Z',
    session_id: 's2',
    pid: 1,
    host: 'h',
    boot_id: null,
    command: ['train'],
    cwd: '/',
    trainer_pid: 2,
    trainer_start_ticks: null,
    restored_id: null,
  }),
  ended: '2026-01-01T10:40:00.000Z',
  exit_code: 1,
  ...over,
});

const ids = (c: ResumeCandidate[]): number[] => c.map((b) => b.epoch!);

describe('resumeCandidates', () => {
  it('never a backup taken after the interrupted session ended', () => {
    const got = resumeCandidates([at(10), at(30, { session: 's2' }), at(50)], interrupted());
    expect(ids(got)).toEqual([30, 10]);
  });

  it('with no end recorded (ckptd was killed), after its start only the backups its own ckptd took', () => {
    const got = resumeCandidates([at(10), at(30, { session: 's2' }), at(35, { session: 's1' }), at(50)], interrupted({ ended: null, exit_code: null }));
    expect(ids(got)).toEqual([30, 10]);
  });

  it('with no end recorded, never a backup taken after its own ones, even when its clock says it is older (stepped back)', () => {
    // A `ckptd daemon` backed up the crashed run after a reboot whose clock was behind: its created
    // time (10:15) falls before the session started (10:20), yet its id sorts after the session's
    // own backup, as ids always do after every id the store holds.
    const afterCrash = { ...at(15), id: '20260101-103000-001-bbbb' };
    const got = resumeCandidates([at(10), at(30, { session: 's2' }), afterCrash], interrupted({ ended: null, exit_code: null }));
    expect(ids(got)).toEqual([30, 10]);
  });

  it('a session recorded before sessions were named keeps the time rule', () => {
    const { session_id: _, ...legacy } = interrupted({ ended: null, exit_code: null });
    expect(ids(resumeCandidates([at(10), at(30), at(50)], legacy))).toEqual([50, 30, 10]);
  });

  it('not the backups a resumed session restored over: taken after the one it restored, before it started', () => {
    const got = resumeCandidates([at(5), at(10), at(15), at(30, { session: 's2' })], interrupted({ restored_id: at(10).id }));
    expect(ids(got)).toEqual([30, 10, 5]);
    // Its own daemon starts before the trainer (and `started`): what it took then is its own.
    const own = resumeCandidates([at(10), at(19, { session: 's2' })], interrupted({ restored_id: at(10).id }));
    expect(ids(own)).toEqual([19, 10]);
  });

  it('none taken before the last finished session', () => {
    expect(ids(resumeCandidates([at(5), at(10), at(30)], interrupted({ last_finished: '2026-01-01T10:07:00.000Z' })))).toEqual([30, 10]);
  });

  it("the session's own backups count even when a clock stepped back dates them before the last finished session", () => {
    // The last finished session ended at 10:07 by a clock that ran ahead; this session's own backup says 10:05.
    const got = resumeCandidates([at(3), at(5, { id: '20260101-100800-000-aaaa', session: 's2' })], interrupted({ last_finished: '2026-01-01T10:07:00.000Z' }));
    expect(ids(got)).toEqual([5]);
  });

  it('complete ones first, newest first; then incomplete ones; never damaged or other kinds', () => {
    const all = [at(1), at(4, { damaged: true }), at(3, { incomplete: true }), at(5, { kind: 'manual' }), at(2), at(6, { incomplete: true })];
    expect(ids(resumeCandidates(all, null))).toEqual([2, 1, 6, 3]);
    // All incomplete: the newest of them first, not nothing.
    expect(ids(resumeCandidates([at(3, { incomplete: true }), at(6, { incomplete: true })], null))).toEqual([6, 3]);
  });
});
