/**
 * The flags `bin/ckptd` (the `ckptd` command) starts node with, for the flags V8 reads only when a
 * process starts: set at run time (`v8.setFlagsFromString`) they change nothing. Whatever starts
 * the CLI itself (the demo, the bench) passes the same, so it measures what users run.
 *
 * `--max-semi-space-size=4`: V8's young generation is two semi-spaces, each allowed to grow to
 * 16 MB by default. A capture of a run of 100,000 small files builds its lists fast enough to grow
 * them to the limit, so 32 MB of a daemon's peak RSS was young generation (208-218 MB for a
 * one-file change, 190-198 MB with 4 MB semi-spaces, no more CPU per change, in the same
 * `npm run bench -- startup` session: docs/BENCHMARKS.md "Many files").
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
