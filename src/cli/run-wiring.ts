/**
 * The `ckptd run` command line. CMD follows `--`, always: commander's `passThroughOptions` would
 * need `enablePositionalOptions` on the whole program, which stops `ckptd list --config X` from
 * reading `--config` after the command name; and without `--`, a trainer flag such as `--config`
 * or `--resume` would be taken as ckptd's. So a CMD not entirely after `--` is a usage error.
 */
import type { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { loadRun, type GlobalOptions } from './context.js';

/**
 * Throws `UsageError` unless every word of `cmdArgs` came after the first `--` of the command
 * line (`rawArgs`, as commander received it). Pure.
 */
export function checkDoubleDash(rawArgs: readonly string[], cmdArgs: readonly string[]): void {
  const at = rawArgs.indexOf('--');
  const after = at === -1 ? [] : rawArgs.slice(at + 1);
  if (after.length !== cmdArgs.length || after.some((a, i) => a !== cmdArgs[i])) {
    throw new UsageError(
      `put \`--\` before the trainer's command, so that its options stay its own: ckptd run [--resume] -- ${cmdArgs.join(' ') || 'CMD [ARGS...]'}`,
    );
  }
}

/** Adds `ckptd run` to `program`. `globals` reads --config/--run; `setExit` receives CMD's exit code. */
export function addRunCommand(program: Command, globals: (cmd: Command) => GlobalOptions, setExit: (code: number) => void): void {
  program
    .command('run')
    .description(
      "run a trainer with BackupAndRestore semantics: its run is backed up by the policies while it runs; after an interrupted run, --resume restores the newest backup first",
    )
    .usage('[--resume] -- CMD [ARGS...]')
    .option('--resume', 'if the previous `ckptd run` of this run was interrupted, restore its newest good backup before starting CMD')
    .argument('<cmd...>', 'the trainer command and its arguments, after `--`')
    .addHelpText(
      'after',
      '\nCMD gets CKPTD_RUN, CKPTD_STORE and CKPTD_CONFIG in its environment; after a restore also CKPTD_RESTORED_ID,\n' +
        'and CKPTD_EPOCH / CKPTD_STEP when the backup knows them (unset otherwise).\n' +
        '--resume restores a backup of the interrupted training: taken since the last finished run and no later than the\n' +
        'interrupted `ckptd run` ended (if ckptd itself was killed: one its own daemon took), never one taken afterwards\n' +
        '(`ckptd daemon`, backup-now) of what the crash left; a complete one before a newer one that left files out,\n' +
        'which is restored (its left-out files kept as they are) only when no complete one can be.\n' +
        "A run is interrupted when CMD exits non-zero, dies by a signal, is stopped (SIGINT/SIGTERM/SIGHUP), or ckptd or the machine\n" +
        'goes down. When CMD exits 0 and backup.delete_on_finish is true in the config file as it is then, the policy\n' +
        'backups are deleted, unless CMD left processes running (they may be the training).\n' +
        'Edits of the config file apply to the running training, except a new store or path for the run, or its\n' +
        'removal or renaming: those wait for the next `ckptd run` (a warning says so). SIGHUP reloads nothing here.\n' +
        "ckptd's exit code is CMD's (128+N when signal N killed it). SIGINT, SIGTERM and SIGHUP reach CMD once, and,\n" +
        'when CMD is a wrapper that dies of them, the trainer it leaves running; ckptd then ends when that has too.\n' +
        'After ckptd was killed, the next `ckptd run` refuses (exit 3) while its trainer runs: CMD, or a process CMD started.\n' +
        "ckptd logs to stderr; CMD's stdout and stderr are its own.\n" +
        'Example: ckptd run --resume -- python train.py --lr 1e-4',
    )
    .action(async (cmdArgs: string[], opts: { resume?: boolean }, cmd: Command) => {
      let top: Command = cmd;
      while (top.parent) top = top.parent;
      // commander keeps the argv it parsed in `rawArgs` (not in its typings).
      const raw = (top as unknown as { rawArgs?: unknown }).rawArgs;
      checkDoubleDash(Array.isArray(raw) ? (raw as string[]) : process.argv, cmdArgs);
      const { config, run } = loadRun(globals(cmd));
      const { runCommand } = await import('./run-command.js');
      setExit(await runCommand({ config, run, resume: opts.resume ?? false, argv: cmdArgs }));
    });
}
