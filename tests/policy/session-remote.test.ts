/** `ckptd run --resume` on a fresh machine resumes from the remote (issue 13): when, and from which backup. */
import { describe, expect, it } from 'vitest';
import { remoteResumeCandidates, resumeFromRemote } from '../../src/policy/session.js';

describe('resumeFromRemote', () => {
  const rows: [resume: boolean, hasRemote: boolean, localBackups: number, yes: boolean][] = [
    [true, true, 0, true],
    [true, true, 1, false],
    [true, false, 0, false],
    [false, true, 0, false],
  ];
  for (const [resume, hasRemote, local, yes] of rows) {
    it(`--resume ${resume}, remote ${hasRemote}, ${local} local backup(s) → ${yes ? 'from the remote' : 'not from the remote'}`, () => {
      const d = resumeFromRemote(resume, hasRemote, local);
      expect(d.yes).toBe(yes);
      expect(d.reason === null).toBe(!yes);
    });
  }
});

describe('remoteResumeCandidates', () => {
  it('newest first, only complete, undamaged policy backups', () => {
    const s = (id: string, over: Record<string, unknown> = {}) => ({ id, kind: 'backup', created: id, epoch: null, step: null, ...over });
    const got = remoteResumeCandidates([s('1'), s('4', { damaged: true }), s('3', { incomplete: true }), s('5', { kind: 'manual' }), s('2')]);
    expect(got.map((c) => c.id)).toEqual(['2', '1']);
  });
});
