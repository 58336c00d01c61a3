/**
 * The `ckptd` program: parses arguments (commander), runs one command, and reports what it threw
 * with the exit codes of SPEC section 2 (`failure.ts`: 1 failed, 2 bad usage or config, 3 refused
 * for safety; with `--json` also as one JSON error document on stdout). Importing this module runs
 * nothing; `main.ts` is the executable that runs it on `process.argv`.
 *
 * A command's code is imported when that command runs (here and in the `add...Commands` files),
 * not at start: loading every command's modules cost each invocation 0.1-0.2 s of CPU, which a
 * trainer calling `ckptd progress` every epoch pays each time (0.48 -> 0.28 s of CPU).
 */
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { INIT_PRESETS } from '../config/presets.js';
import type { LogFormat, LogLevel } from '../config/types.js';
import { zeroConfig } from '../config/zero-config.js';
import { UsageError } from '../util/errors.js';
import { failureOf, jsonRequested, reportFailure } from './failure.js';
import { checkPlaces, loadCliConfig, loadRun, pickRun, printJson, refuseRun, type GlobalOptions } from './context.js';
import { addRunCommand } from './run-wiring.js';
import { addManageCommands } from './manage.js';
import { addRemoteCommands } from './remote-commands.js';
import { addRecordCommands } from './records-commands.js';
import { addUiCommand } from './ui-command.js';
import { addServiceCommands } from './service-command.js';


function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function number(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new CommanderError(2, 'ckptd.badNumber', `${flag} needs a number (got "${v}")`);
    return n;
  };
}

/** Builds the command tree; `setExit` receives the exit code of the command that ran. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('ckptd')
    .description(
      'Keeps a training run safe: backups and saves of the files a trainer writes, by YAML policy, ' +
        'as versioned snapshots with epoch/step/loss, reloading its config live.',
    )
    .version('0.1.0')
    .option('--config <path>', 'config file (default: $CKPTD_CONFIG, ./ckptd.yaml, $XDG_CONFIG_HOME/ckptd/config.yaml, /etc/ckptd/config.yaml; not for watch)')
    .option('--run <name>', 'the run a command is about (optional when the config has one run; not for daemon, watch, init, install-service)')
    .showHelpAfterError('(run `ckptd --help` or `ckptd <command> --help` for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 failed or found problems, 2 bad usage or bad config, 3 refused for safety.\n' +
        'With --json, a failure is one JSON document on stdout too: {"error": {"message": ..., "code": <exit code>}}.\n' +
        'Start here: `ckptd init ./output --preset hf` (writes ./ckptd.yaml), `ckptd check-config`, then `ckptd daemon`.\n' +
        'Or, with no config at all: `ckptd watch ./output`.',
    );

  program
    .command('daemon')
    .description('run in the foreground: watch every run, apply policies, reload the config live (SIGHUP reloads too)')
    .action(async (_opts, cmd: Command) => {
      refuseRun(globals(cmd), 'daemon', 'it watches every run of the config; for a daemon per run, give each its own config file (--config)');
      const config = loadCliConfig(globals(cmd).config);
      const { runDaemon } = await import('./daemon-command.js');
      setExit(await runDaemon(config, true));
    });

  program
    .command('watch')
    .description('zero-config daemon for one folder: backup on every settled change, keep 5')
    .argument('<dir>', 'the folder the trainer writes')
    .option('--store <dir>', "where snapshots go (default: <dir's parent>/.ckptd/<basename>)")
    .addOption(new Option('--log-level <level>', 'error | warn | info | debug').choices(['error', 'warn', 'info', 'debug']).default('info'))
    .addOption(new Option('--log-format <format>', 'text (one readable line each) | json (one object per line)').choices(['text', 'json']).default('text'))
    .action(async (dir: string, opts: { store?: string; logLevel: LogLevel; logFormat: LogFormat }, cmd: Command) => {
      refuseRun(globals(cmd), 'watch', 'it watches the one folder it is given, with no config');
      if (globals(cmd).config !== undefined) throw new UsageError('watch does not take --config: it watches the one folder it is given, with no config; to use a config, run `ckptd daemon --config FILE`');
      // Empty text (a shell variable left unset) would otherwise mean the current folder.
      if (dir === '') throw new UsageError('watch needs the folder the trainer writes, got an empty string');
      if (opts.store === '') throw new UsageError('--store needs a folder, got an empty string; leave it out for the default');
      const config = zeroConfig(path.resolve(dir), opts.store ? path.resolve(opts.store) : undefined);
      const { runPlaceProblems } = await import('../config/run-places.js');
      const unusable = runPlaceProblems(config.runs[0]!).map((p) => `cannot watch ${dir}: ${p.reason}; name a folder ckptd can use`);
      if (unusable.length > 0) throw new UsageError(unusable.join('\n'));
      config.log = { ...config.log, level: opts.logLevel, format: opts.logFormat };
      const { runDaemon } = await import('./daemon-command.js');
      setExit(await runDaemon(config, false));
    });

  program
    .command('check-config')
    .description(
      'validate a config, and that every run folder, store and save.to is a folder ckptd can enter and read (or is not there yet); ' +
        'print each problem as FILE:LINE:COL key.path: message; with --run NAME, check only that run\'s folders',
    )
    .argument('[path]', 'the config file (default: the same search as --config)')
    .action(async (file: string | undefined, _opts, cmd: Command) => {
      const { checkConfig } = await import('./check-config.js');
      const target = file ?? globals(cmd).config;
      const r = checkConfig(target !== undefined ? path.resolve(target) : loadCliConfig(undefined).file!, globals(cmd).run);
      process.stdout.write(`${r.output}\n`);
      setExit(r.exitCode);
    });

  program
    .command('init')
    .description('write a commented starter config (./ckptd.yaml, or --config PATH) for the run folder DIR')
    .argument('[dir]', 'the folder the trainer writes', '.')
    .addOption(new Option('--preset <name>', 'trainer preset').choices(INIT_PRESETS).default('generic'))
    .option('--force', 'overwrite an existing config file')
    .addHelpText('after', '\nDeepFaceLab: `ckptd init workspace/model --preset dfl` (backups every 10000 iterations, after a 60s settle).')
    .action(async (dir: string, opts: { preset: (typeof INIT_PRESETS)[number]; force?: boolean }, cmd: Command) => {
      refuseRun(globals(cmd), 'init', "the run it writes is named after DIR's folder (edit its name: in the file)");
      const { runInit } = await import('./init.js');
      const configPath = globals(cmd).config;
      const r = runInit({
        dir: path.resolve(dir),
        preset: opts.preset,
        configPath: path.resolve(configPath ?? 'ckptd.yaml'),
        force: opts.force ?? false,
      });
      process.stdout.write(`wrote ${r.path}\ncheck it with: ckptd check-config ${r.path}\nstart with:    ckptd daemon --config ${r.path}\n`);
    });

  program
    .command('snapshot')
    .description(
      'take a manual snapshot of the settled state now (through the daemon if one runs); prints its id. ' +
        'Waits up to 10 minutes for the run to settle (a file emptied moments ago, as a truncating save does, until it has been empty 10 s). ' +
        'A file still changing or open for writing after the retries is left out and listed (the snapshot is marked incomplete)',
    )
    .option('--name <name>', 'a short name for the snapshot')
    .option('--notes <text>', 'notes (may span several lines)')
    .option('--pin', 'never delete it automatically')
    .option('--json', 'print {"id": ...} as JSON')
    .action(async (opts: { name?: string; notes?: string; pin?: boolean; json?: boolean }, cmd: Command) => {
      const [{ checkLabel, takeManualSnapshot }, { createCliLogger }] = await Promise.all([import('../client/snapshot.js'), import('../client/cli-logger.js')]);
      const name = checkLabel('name', opts.name);
      const notes = checkLabel('notes', opts.notes);
      const { run } = loadRun(globals(cmd));
      const r = await takeManualSnapshot(run, { name, notes, pinned: opts.pin ?? false }, createCliLogger({ verbose: process.stderr.isTTY }));
      if (opts.json) printJson({ id: r.id, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.id}\n`);
    });

  program
    .command('backup-now')
    .description('ask the running daemon for a backup at its next settled moment (or take it directly); prints its id')
    .option('--json', 'print {"id": ...} as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const [{ takeBackupNow }, { createCliLogger }] = await Promise.all([import('../client/snapshot.js'), import('../client/cli-logger.js')]);
      const r = await takeBackupNow(run, createCliLogger({ verbose: process.stderr.isTTY }));
      if (opts.json) printJson({ id: r.id, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.id}\n`);
    });

  addRecordCommands(program, globals, setExit);
  addManageCommands(program, globals);
  addUiCommand(program, globals);
  addServiceCommands(program, globals);
  addRunCommand(program, globals, setExit);
  addRemoteCommands(program, globals, setExit);

  program
    .command('status')
    .description(
      'daemon alive?; per run: progress, last backup and save, what is due next and why, store size, free disk, warnings ' +
        '(backups failing, with the error and the next try; files that keep the state from settling, with the exclude that fixes them; ' +
        'files left out; names that cannot be captured)',
    )
    .option('--json', 'one JSON array on stdout (one object per run)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const config = loadCliConfig(g.config);
      checkPlaces(config, g.run === undefined ? config.runs : [pickRun(config, g.run)]);
      const { configStatus, renderStatus } = await import('./status.js');
      const list = await configStatus(config, g.run, Date.now());
      if (opts.json) printJson(list);
      else process.stdout.write(`${renderStatus(list, Date.now())}\n`);
    });

  program
    .command('progress')
    .description("report progress from a custom training script (writes .ckptd-progress.json in the run's folder)")
    .option('--epoch <n>', 'current epoch', number('--epoch'))
    .option('--step <n>', 'current global step', number('--step'))
    .option('--loss <x>', 'current loss', number('--loss'))
    .option('--metric <key=value>', 'another metric (repeatable)', collect, [] as string[])
    .action(async (opts: { epoch?: number; step?: number; loss?: number; metric: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const { run } = loadRun(g);
      const { parseMetricArgs, writeProgressFile } = await import('./progress.js');
      const metrics = parseMetricArgs(opts.metric);
      const file = await writeProgressFile(
        run.path,
        {
          ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
          ...(opts.step !== undefined ? { step: opts.step } : {}),
          ...(opts.loss !== undefined ? { loss: opts.loss } : {}),
          metrics,
        },
        Date.now(),
      );
      if (process.stderr.isTTY) process.stderr.write(`progress written to ${file}\n`);
    });

  return program;
}

/** Runs the CLI with `argv` and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    const failure = failureOf(err);
    if (typeof failure === 'number') return failure;
    reportFailure(failure, jsonRequested(argv));
    return failure.code;
  }
}
