/**
 * The pure decisions of `ckptd run`: interrupted or finished, which backup `--resume` restores,
 * the trainer's environment, exit codes, a previous trainer still alive, and what
 * delete_on_finish deletes.
 */
import { describe, expect, it } from 'vitest';
import { planDeleteOnFinish } from '../../src/ops/delete-on-finish.js';
import {
  concludeSession,
  decideResume,
  exitCodeOf,
  parseSession,
  previousTrainerAlive,
  resumeCandidates,
  startSession,
  trainerEnv,
  type ResumeCandidate,
  type SessionRecord,
} from '../../src/ops/session.js';
import type { RetentionItem } from '../../src/policy/plan-retention.js';

const started = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  ...startSession(null, {
    run: 'r',
    started: '2026-01-01T10:00:00.000Z',
    pid: 100,
    host: 'h',
    boot_id: 'boot-1',
    command: ['python', 'train.py'],
    cwd: '/w',
    trainer_pid: 200,
    trainer_start_ticks: '5000',
    restored_id: null,
  }),
  ...over,
});

const backup = (id: string, created: string, over: Partial<ResumeCandidate> = {}): ResumeCandidate => ({ id, kind: 'backup', created, epoch: 3, step: 300, damaged: false, ...over });

describe('session record', () => {
  it('finishes only on exit 0 without a stop request', () => {
    const end = '2026-01-01T11:00:00.000Z';
    expect(concludeSession(started(), { exitCode: 0, signal: null, stoppedBy: null, ended: end })).toMatchObject({ finished: true, exit_code: 0, ended: end });
    expect(concludeSession(started(), { exitCode: 0, signal: null, stoppedBy: 'SIGTERM', ended: end })).toMatchObject({ finished: false, stopped_by: 'SIGTERM' });
    expect(concludeSession(started(), { exitCode: 3, signal: null, stoppedBy: null, ended: end }).finished).toBe(false);
    expect(concludeSession(started(), { exitCode: 137, signal: 'SIGKILL', stoppedBy: null, ended: end })).toMatchObject({ finished: false, exit_code: null, signal: 'SIGKILL' });
  });

  it('carries the time of the last finished session forward', () => {
    const finished = concludeSession(started(), { exitCode: 0, signal: null, stoppedBy: null, ended: '2026-01-01T11:00:00.000Z' });
    const next = startSession(finished, { ...started(), started: '2026-01-02T00:00:00.000Z' });
    expect(next.last_finished).toBe('2026-01-01T11:00:00.000Z');
    const crashed = startSession(next, { ...started(), started: '2026-01-03T00:00:00.000Z' });
    expect(crashed.last_finished).toBe('2026-01-01T11:00:00.000Z');
    expect(startSession(null, started()).last_finished).toBeNull();
  });

  it('parses what it writes and rejects anything else', () => {
    const rec = started();
    expect(parseSession(JSON.stringify(rec))).toEqual(rec);
    expect(parseSession('{')).toBeNull();
    expect(parseSession(JSON.stringify({ ...rec, finished: 'no' }))).toBeNull();
    expect(parseSession(JSON.stringify({ ...rec, format: 2 }))).toBeNull();
    // Named sessions, and those recorded before sessions were named.
    expect(parseSession(JSON.stringify({ ...rec, session_id: 'abc' }))).toEqual({ ...rec, session_id: 'abc' });
    expect(parseSession(JSON.stringify({ ...rec, session_id: 5 }))).toBeNull();
    const tree = [{ pid: 7, start_ticks: '70' }];
    expect(parseSession(JSON.stringify({ ...rec, trainer_tree: tree }))).toEqual({ ...rec, trainer_tree: tree });
    expect(parseSession(JSON.stringify({ ...rec, trainer_tree: [{ pid: 7 }] }))).toBeNull();
  });

  it.each([
    [0, null, 0],
    [7, null, 7],
    [null, 'SIGKILL', 137],
    [null, 'SIGTERM', 143],
    [null, 'SIGINT', 130],
  ] as const)('exit code %s / signal %s -> %s', (code, signal, want) => {
    expect(exitCodeOf(code, signal)).toBe(want);
  });
});

describe('resume decision', () => {
  const b1 = backup('20260101-100500-000-aaaa', '2026-01-01T10:05:00.000Z', { epoch: 1, step: 100 });
  const b2 = backup('20260101-101000-000-bbbb', '2026-01-01T10:10:00.000Z', { epoch: 2, step: 200 });
  const damaged = backup('20260101-101500-000-cccc', '2026-01-01T10:15:00.000Z', { damaged: true });
  const manual = { ...backup('20260101-102000-000-dddd', '2026-01-01T10:20:00.000Z'), kind: 'manual' };
  const all = [b1, manual, damaged, b2];

  it('restores the newest good policy backup after an interrupted session, with --resume only', () => {
    const prev = started();
    const candidates = resumeCandidates(all, prev);
    expect(candidates.map((c) => c.id)).toEqual([b2.id, b1.id]);
    const d = decideResume(prev, true, candidates);
    expect(d.restore).toBe(b2);
    expect(d.reason).toContain(`restoring backup ${b2.id} (epoch 2, step 200`);
    const hint = decideResume(prev, false, candidates);
    expect(hint.restore).toBeNull();
    expect(hint.reason).toContain(`\`ckptd run --resume\` would first restore backup ${b2.id}`);
  });

  it('never restores after a finished session, or without a session', () => {
    const finished = concludeSession(started(), { exitCode: 0, signal: null, stoppedBy: null, ended: '2026-01-01T11:00:00.000Z' });
    expect(decideResume(finished, true, [b2])).toMatchObject({ restore: null, reason: expect.stringContaining('nothing to resume') as string });
    expect(decideResume(finished, false, [b2])).toEqual({ restore: null, reason: null });
    expect(decideResume(null, true, [b2]).restore).toBeNull();
    expect(decideResume(null, false, [b2]).reason).toBeNull();
  });

  it('ignores backups of a training that finished before the interrupted one', () => {
    const prev = started({ last_finished: '2026-01-01T10:07:00.000Z' });
    expect(resumeCandidates(all, prev).map((c) => c.id)).toEqual([b2.id]);
    const later = started({ last_finished: '2026-01-01T12:00:00.000Z' });
    const d = decideResume(later, true, resumeCandidates(all, later));
    expect(d.restore).toBeNull();
    expect(d.reason).toContain('no good backup was taken since the last finished run');
  });

  it('says why a session counts as interrupted', () => {
    expect(decideResume(started(), true, []).reason).toContain('ckptd or the machine went down');
    const stopped = concludeSession(started(), { exitCode: 0, signal: null, stoppedBy: 'SIGINT', ended: 'x' });
    expect(decideResume(stopped, true, []).reason).toContain('stopped by SIGINT');
    const failed = concludeSession(started(), { exitCode: 2, signal: null, stoppedBy: null, ended: 'x' });
    expect(decideResume(failed, true, []).reason).toContain('exited with code 2');
  });
});

describe('previous trainer still alive', () => {
  type Machine = Parameters<typeof previousTrainerAlive>[1];
  const here: Machine = { host: 'h', bootId: 'boot-1', pidExists: (pid: number): boolean => pid === 200, startTicksOf: (): string | null => '5000' };
  it.each([
    ['the same process', started(), here, true],
    ['a finished session', started({ finished: true, ended: 'x' }), here, false],
    ['an ended session', started({ ended: 'x', exit_code: 1 }), here, false],
    ['another host', started(), { ...here, host: 'other' }, false],
    ['another boot', started(), { ...here, bootId: 'boot-2' }, false],
    ['a pid that is gone', started(), { ...here, pidExists: () => false }, false],
    ['a reused pid', started(), { ...here, startTicksOf: () => '9999' }, false],
  ] as [string, SessionRecord, Machine, boolean][])('%s', (_what, prev, now, want) => {
    expect(previousTrainerAlive(prev, now)).toBe(want ? 200 : null);
  });

  // CMD (pid 200, a wrapper) is gone; the trainer it started (pid 300) is not.
  const orphaned: Machine = { ...here, pidExists: (pid) => pid === 300, startTicksOf: (pid) => (pid === 300 ? '6000' : null) };
  it.each([
    ['a process of its tree, still the same', [{ pid: 300, start_ticks: '6000' }], 300],
    ['a process of its tree whose pid was reused', [{ pid: 300, start_ticks: '5999' }], null],
    ['no tree recorded', undefined, null],
  ] as const)('%s', (_what, tree, want) => {
    expect(previousTrainerAlive(started(tree === undefined ? {} : { trainer_tree: [...tree] }), orphaned)).toBe(want);
    expect(previousTrainerAlive(started({ trainer_tree: [...(tree ?? [])], ended: 'x', exit_code: 1 }), orphaned)).toBeNull();
  });
});

describe('trainer environment', () => {
  it('sets what is known, unsets what is not, and drops inherited values', () => {
    const base = { PATH: '/bin', CKPTD_RESTORED_ID: 'stale', CKPTD_EPOCH: '9' };
    expect(trainerEnv(base, { run: 'r', store: '/s', configFile: '/c.yaml', restored: null })).toEqual({ PATH: '/bin', CKPTD_RUN: 'r', CKPTD_STORE: '/s', CKPTD_CONFIG: '/c.yaml' });
    expect(trainerEnv({}, { run: 'r', store: '/s', configFile: null, restored: { id: 'x', epoch: 2.5, step: null } })).toEqual({
      CKPTD_RUN: 'r',
      CKPTD_STORE: '/s',
      CKPTD_RESTORED_ID: 'x',
      CKPTD_EPOCH: '2.5',
    });
  });
});

describe('delete_on_finish plan', () => {
  const item = (id: string, over: Partial<RetentionItem> = {}): RetentionItem => ({
    id,
    kind: 'backup',
    pinned: false,
    created: Date.parse(`2026-01-01T10:0${id}:00Z`),
    damaged: false,
    metrics: {},
    loss: null,
    ...over,
  });
  it('deletes every unpinned policy backup, keeps keep_best ones, and ignores other kinds', () => {
    const items = [
      item('1', { loss: 0.5 }),
      item('2', { loss: 0.1 }),
      item('3', { loss: 0.3, pinned: true }),
      item('4', { loss: 0.9 }),
      item('5', { kind: 'manual' }),
      item('6', { kind: 'pre-restore' }),
      item('7', { damaged: true }),
    ];
    const plan = planDeleteOnFinish(items, { metric: 'loss', mode: 'min', count: 1 }, Date.now());
    expect(plan.remove.sort()).toEqual(['1', '4', '7']);
    expect(plan.keep.map((k) => k.id).sort()).toEqual(['2', '3']);
    expect(planDeleteOnFinish(items, null, Date.now()).remove.sort()).toEqual(['1', '2', '4', '7']);
  });

  it('keeps a backup queued for push and not yet on the remote (a damaged one is not kept for it)', () => {
    const items = [item('1'), item('2', { awaitingPush: true }), item('3', { awaitingPush: true, damaged: true })];
    const plan = planDeleteOnFinish(items, null, Date.now());
    expect(plan.remove.sort()).toEqual(['1', '3']);
    expect(plan.keep).toEqual([{ id: '2', reason: expect.stringMatching(/^queued for push to the remote, not there yet/) }]);
  });
});
