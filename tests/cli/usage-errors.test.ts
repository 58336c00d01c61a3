/**
 * Bad command lines get the exit code of SPEC section 2 (2: bad usage) and a message that names
 * what to type instead; help asked for is exit 0, help shown because the command line was wrong is not.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/daemon-process.js';

describe('ckptd with no command', () => {
  it('prints the help to stderr and exits 2, with nothing on stdout', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: ckptd [options] [command]');
  });

  it('exits 2 for `ckptd help` of a command that does not exist', async () => {
    expect((await runCli(['help', 'bogus'])).code).toBe(2);
  });

  it('still exits 0 for help asked for', async () => {
    for (const args of [['--help'], ['help'], ['help', 'list'], ['list', '--help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toContain('Usage: ckptd');
    }
  });
});
