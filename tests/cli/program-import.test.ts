/**
 * The CLI's program can be built and inspected (tests, `--help` checks, tools) without running it:
 * importing the module that builds it must not parse `process.argv` or exit the process. Before,
 * `main.ts` both built the program and ran it on import, so a test importing `buildProgram` ran
 * `ckptd <vitest's own arguments>`, which exits 2 and killed (or failed) the test run.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

describe('the program module', () => {
  afterEach(() => vi.restoreAllMocks());

  it('builds the program without running it or exiting', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const stderr = vi.spyOn(process.stderr, 'write');
    const { buildProgram } = await import('../../src/cli/program.js');
    // Give an accidental run on import every chance to reach its exit: it exits only after
    // flushing stdout and stderr, a few ticks and an I/O round later.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(exit).not.toHaveBeenCalled();
    expect(stderr).not.toHaveBeenCalled();
    expect(buildProgram(() => undefined).name()).toBe('ckptd');
  });
});
