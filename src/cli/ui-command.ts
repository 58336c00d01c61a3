/**
 * `ckptd ui [--port N] [--no-open]`: the Version panel, a page in the browser that lists each run's
 * snapshots and saves, charts their loss, and restores, deletes, creates and labels them. It serves
 * on 127.0.0.1 only and prints the URL (with its access token) on stdout, alone on its line; it
 * follows edits of the config file (runs added, removed or changed); it runs until Ctrl-C (SIGINT)
 * or SIGTERM, then exits 0.
 */
import { spawn } from 'node:child_process';
import { type Command, CommanderError, Option } from 'commander';
import { loadCliConfig, pickRun, type GlobalOptions } from './context.js';

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 65535) throw new CommanderError(2, 'ckptd.badNumber', `--port needs a port number 0-65535 (got "${v}")`);
  return n;
}

/** Asks the desktop to open `url`; says so on stderr when it cannot. */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    process.stderr.write('no graphical session here: open the URL above in a browser (through `ssh -L PORT:127.0.0.1:PORT` from another machine)\n');
    return;
  }
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`could not start ${cmd}: open the URL above in a browser\n`));
  child.unref();
}

/** Adds `ckptd ui` to the program. `globals` reads --config/--run. */
export function addUiCommand(program: Command, globals: (cmd: Command) => GlobalOptions): void {
  program
    .command('ui')
    .description('the Version panel: browse, chart, restore, delete and label snapshots in a local web page (127.0.0.1 only); follows edits of the config file')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').argParser(port).default(0))
    .option('--no-open', 'do not open a browser; just print the URL')
    .action(async (opts: { port: number; open: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const config = loadCliConfig(g.config);
      if (g.run !== undefined) pickRun(config, g.run);
      const { startUiServer } = await import('../ui/server.js');
      const server = await startUiServer({
        config,
        port: opts.port,
        preferredRun: g.run ?? null,
        onRefused: (line) => process.stderr.write(`${line}\n`),
        followConfig: true,
        onNotice: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`${server.url}\n`);
      process.stderr.write(
        `ckptd Version panel for ${config.runs.length} run(s) at http://127.0.0.1:${server.port}/ (Ctrl-C stops it).\n` +
          'The URL above carries an access token: whoever has it can restore and delete snapshots, so do not share it.\n',
      );
      if (opts.open) openBrowser(server.url);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) {
            // A second Ctrl-C abandons the operation; a restore cut short is completed by running it again.
            process.stderr.write(`${signal} again: stopping now\n`);
            process.exit(130);
          }
          stopping = true;
          if (server.pending() > 0) process.stderr.write(`waiting for ${server.pending()} operation(s) in progress to finish (${signal} again stops at once)\n`);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
