/**
 * `ckptd install-service [--user] [--dry-run] [--unit-dir DIR] [--name NAME] [--user-name USER] [--force]`:
 * the command-line face of `installService`. With `--dry-run` stdout holds only the unit (so it
 * can be redirected) and the notes go to stderr.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { GlobalOptions } from './context.js';
import { loadCliConfig, refuseRun } from './context.js';
import { installService } from './install-service.js';

/** This ckptd's entry point (`dist/src/cli/main.js`), which the unit runs with this node. */
const CLI_PATH = fileURLToPath(new URL('./main.js', import.meta.url));

/** Adds `install-service` to `program`; `globals` reads `--config` from the command. */
export function addServiceCommands(program: Command, globals: (cmd: Command) => GlobalOptions): void {
  program
    .command('install-service')
    .description('write a systemd unit that runs `ckptd daemon` with this config (system-wide, or --user), then print the commands to enable it')
    .option('--user', 'a unit for `systemctl --user` (~/.config/systemd/user) instead of a system unit (/etc/systemd/system)')
    .option('--dry-run', 'print the unit on stdout instead of writing it (notes go to stderr)')
    .option('--unit-dir <dir>', 'write the unit into this folder')
    .option('--name <name>', 'the unit name, for one daemon per config', 'ckptd')
    .option('--user-name <user>', 'system unit: the account the daemon runs as', 'ckptd')
    .option('--force', 'replace an existing unit that differs')
    .addHelpText(
      'after',
      '\nThe system unit runs as --user-name with the whole file system read-only except the runs\' folders, stores and save\n' +
        'folders of the config (ReadWritePaths=): render it again with --force after changing those.',
    )
    .action((opts: { user?: boolean; dryRun?: boolean; unitDir?: string; name: string; userName: string; force?: boolean }, cmd: Command) => {
      refuseRun(globals(cmd), 'install-service', "the unit's daemon watches every run of the config; for a daemon per run, give each its own config and --name");
      const config = loadCliConfig(globals(cmd).config);
      const r = installService({
        scope: opts.user ? 'user' : 'system',
        config,
        configText: fs.readFileSync(config.file!, 'utf8'),
        unitName: opts.name,
        unitDir: opts.unitDir ?? null,
        userName: opts.userName,
        dryRun: opts.dryRun ?? false,
        force: opts.force ?? false,
        nodePath: process.execPath,
        cliPath: CLI_PATH,
        env: process.env,
      });
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      const notes: string[] = [];
      if (r.outcome === 'dry-run') notes.push(`would write ${r.unitPath}; then run:`);
      else if (r.outcome === 'unchanged') notes.push(`${r.unitPath} is already this unit; next:`);
      else notes.push(`${r.outcome === 'created' ? 'wrote' : 'replaced'} ${r.unitPath}; next:`);
      notes.push(...r.nextSteps.map((s) => `  ${s}`));
      if (r.outcome === 'dry-run') {
        process.stdout.write(r.text);
        process.stderr.write(`${notes.join('\n')}\n`);
      } else {
        process.stdout.write(`${notes.join('\n')}\n`);
      }
    });
}
