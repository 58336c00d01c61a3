/**
 * `ckptd ui [--port N] [--no-open]`: the Version panel, a page in the browser that lists each run's
 * snapshots and saves, charts their loss, and restores, deletes, creates and labels them. It serves
 * on 127.0.0.1 only and prints the URL (its access token after `#`) on stdout, alone on its line;
 * the browser it opens gets the URL through a private file, never on a command line; it follows
 * edits of the config file (runs added, removed or changed); it runs until Ctrl-C (SIGINT) or
 * SIGTERM, then exits 0.
 */
import { spawn } from 'node:child_process';
import { type Command, CommanderError, Option } from 'commander';
import { writeLaunchPage, type LaunchPage } from '../ui/launch-page.js';
import { loadCliConfig, pickRun, type GlobalOptions } from './context.js';

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 65535) throw new CommanderError(2, 'ckptd.badNumber', `--port needs a port number 0-65535 (got "${v}")`);
  return n;
}

/**
 * Asks the desktop to open `url`, through a launch page readable only by this user (the token on
 * the opener's command line would show in every user's `ps`); says so on stderr when it cannot.
 * Returns the launch page's removal, or null when none was written.
 */
function openBrowser(url: string): (() => void) | null {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    process.stderr.write('no graphical session here: open the URL above in a browser (through `ssh -L PORT:127.0.0.1:PORT` from another machine)\n');
    return null;
  }
  let page: LaunchPage;
  try {
    page = writeLaunchPage(url);
  } catch (err) {
    process.stderr.write(`could not write the page that opens the panel (${(err as Error).message}): open the URL above in a browser\n`);
    return null;
  }
  // Also on a second Ctrl-C, which exits without waiting for the server.
  process.once('exit', page.remove);
  const child = spawn(cmd, [page.file], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`could not start ${cmd}: open the URL above in a browser\n`));
  child.unref();
  return page.remove;
}

/** Adds `ckptd ui` to the program. `globals` reads --config/--run. */
export function addUiCommand(program: Command, globals: (cmd: Command) => GlobalOptions): void {
  program
    .command('ui')
    .description('the Version panel: browse, chart, restore, delete and label snapshots in a local web page (127.0.0.1 only); follows edits of the config file')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').argParser(port).default(0))
    .option('--no-open', 'do not open a browser; just print the URL')
    .addHelpText(
      'after',
      '\nAccess: the URL printed on stdout, http://127.0.0.1:PORT/#token=..., is the only way in: the page keeps the token in\n' +
        'its tab (no cookie) and sends it with every request; whoever has the URL can restore and delete snapshots. The browser\n' +
        'is opened through a page in a private temporary folder (removed when the panel stops), never with the token on a\n' +
        'command line. From another machine: ssh -L PORT:127.0.0.1:PORT, then open the printed URL there.',
    )
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
      const removeLaunchPage = opts.open ? openBrowser(server.url) : null;
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
          void server.close().then(() => {
            removeLaunchPage?.();
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
