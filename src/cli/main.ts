#!/usr/bin/env node
/**
 * The `ckptd` executable, run by `bin/ckptd` (package.json's `bin`, what systemd units run) with
 * node's start-up flags (`node-flags.ts`): runs the program of `program.ts` on `process.argv` and
 * exits with its code. Nothing else imports this file, since importing it runs the CLI.
 */
import { limitHeapGrowth } from '../daemon/heap-growth.js';
import { outputFailure, writeFileOutputWhole } from '../util/lost-output.js';
import { main } from './program.js';

/**
 * Exits once stdout and stderr have written everything: on a pipe their writes are asynchronous,
 * and exiting at once would cut off a large `--json` document (`ckptd list --json | jq`). Output
 * that could not be written fails a command that succeeded (`outputFailure`: exit 1).
 */
function exitWhenFlushed(code: number): void {
  process.stdout.write('', (err) => {
    const failed = outputFailure(err);
    if (failed !== null) process.stderr.write(`error: could not write the output: ${failed.message}\n`);
    process.stderr.write('', () => process.exit(failed !== null && code === 0 ? 1 : code));
  });
}

// Every command, not only the daemon: `list`, `status`, `verify` or a one-shot `snapshot` of a
// store of 100,000-file snapshots read manifests of tens of MB each, and V8 otherwise let the heap
// grow to 2-4x what is alive (`ckptd list` of four such snapshots: 470 -> 240 MB peak RSS).
limitHeapGrowth();
writeFileOutputWhole();
// Exit explicitly: libraries (cron, lock refresh) may hold timers after the command is done.
main(process.argv).then(
  (code) => exitWhenFlushed(code),
  (err: unknown) => {
    process.stderr.write(`error: ${String(err)}\n`);
    exitWhenFlushed(1);
  },
);
