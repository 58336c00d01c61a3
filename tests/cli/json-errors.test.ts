/**
 * With --json, stdout holds one JSON document (SPEC section 2), also when the command fails: then
 * it is `{"error": {"message", "code", ...}}` with the exit code, and the message still goes to
 * stderr for the person watching.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function config(text: string): { dir: string; cfg: string } {
  const t = tempDir('ckptd-json-errors-');
  cleanups.push(t.cleanup);
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, text);
  return { dir: t.dir, cfg };
}

const GOOD = 'runs:\n  - name: a\n    path: ./run\n    progress: none\n';

describe('--json on failure', () => {
  it('a bad config: one JSON document with the message, the exit code and each located problem', async () => {
    const { cfg } = config('runs:\n  - name: a\n    path: ./run\n    settle: 3 parsecs\n');
    const r = await runCli(['list', '--json', '--config', cfg]);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { error: { message: string; code: number; problems: unknown[] } };
    expect(doc.error.code).toBe(2);
    expect(doc.error.message).toContain(`${cfg}:4:13 runs.0.settle: "3 parsecs" is not a duration`);
    expect(doc.error.problems).toEqual([{ file: cfg, line: 4, col: 13, key: 'runs.0.settle', message: expect.stringContaining('is not a duration') as unknown }]);
    expect(r.stderr).toContain(`${cfg}:4:13 runs.0.settle:`);
  });

  it('bad usage found by the command (no such run) and by the parser (no such option)', async () => {
    const { cfg } = config(GOOD);
    for (const args of [['status', '--json', '--run', 'nope'], ['list', '--json', '--bogus']]) {
      const r = await runCli([...args, '--config', cfg]);
      expect(r.code, args.join(' ')).toBe(2);
      const doc = JSON.parse(r.stdout) as { error: { message: string; code: number } };
      expect(doc.error.code).toBe(2);
      expect(doc.error.message).not.toMatch(/^error: /);
      expect(r.stderr).toContain(doc.error.message);
    }
  });

  it('nothing on stdout without --json, nor for a --json that belongs to the trainer after --', async () => {
    const { dir } = config(GOOD);
    const missing = path.join(dir, 'missing.yaml');
    expect((await runCli(['list', '--config', missing])).stdout).toBe('');
    const r = await runCli(['run', '--config', missing, '--', 'true', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});
