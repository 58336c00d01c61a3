/**
 * The commands of the remote tier (SPEC section 8): `push` and `pull`. Both change a store, so they
 * run through the daemon holding the run's store, or here under its lock (`runStoreOp`).
 * `list --remote`, `restore --remote`, `verify --remote` and `delete --remote` are options of the
 * local commands.
 */
import type { Command } from 'commander';
import { loadRun, printJson, type GlobalOptions } from './context.js';

/** Adds `push` and `pull` to the program. */
export function addRemoteCommands(program: Command, globals: (cmd: Command) => GlobalOptions, setExit: (code: number) => void): void {
  program
    .command('push')
    .description(
      "upload to the run's remote now: the records named, or every record of a pushed kind (remote.push) newer than the newest one there " +
        "(one removed from the remote goes up again only when named: one this store's delete --remote removed always, one removed otherwise while a newer one is there); resumes what an interrupted push left; then applies remote.keep",
    )
    .argument('[ids...]', 'ids or unique prefixes (default: every record of a pushed kind newer than the newest one there)')
    .option('--json', 'print what was done as JSON')
    .action(async (ids: string[], opts: { json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const { runStoreOp } = await import('../client/store-op.js');
      const r = await runStoreOp(run, { kind: 'push', ids }, process.stderr.isTTY === true && !opts.json);
      if (opts.json) printJson({ ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
      if (r.data.failed) setExit(1);
    });

  program
    .command('pull')
    .description('copy a remote snapshot into the local store (every file verified), so it is listed, restorable offline, and shared by the next snapshot; one already there is left as it is (exit 0)')
    .argument('<id>', 'a remote snapshot (an id or a unique prefix)')
    .option('--json', 'print what was done as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const { runStoreOp } = await import('../client/store-op.js');
      const r = await runStoreOp(run, { kind: 'pull', id }, process.stderr.isTTY === true && !opts.json);
      if (opts.json) printJson({ ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
    });
}
