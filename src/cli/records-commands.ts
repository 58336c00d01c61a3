/**
 * The commands that read records: `list` (local, or `--remote`), `show` and `verify` (local, or
 * `--remote`). They take no lock: records are written whole, and `verify` writes only markers.
 */
import type { Command } from 'commander';
import { formatBytes } from '../util/format.js';
import { UsageError } from '../util/errors.js';
import { loadRun, printJson, type GlobalOptions } from './context.js';

/** Adds `list`, `show` and `verify` to the program. */
export function addRecordCommands(program: Command, globals: (cmd: Command) => GlobalOptions, setExit: (code: number) => void): void {
  program
    .command('list')
    .description(
      'snapshots and saves, newest first; INCOMPLETE marks a snapshot that left files out (see `show ID`); ' +
        'a column shows the metric retention.keep_best ranks by, when it is not loss',
    )
    .option('--kind <kind>', 'only this kind: backup, manual, pre-restore, save')
    .option('--remote', "what the run's remote holds (SPEC section 8) instead of the local store")
    .option('--all-runs', 'with --remote: the records of every run under the same remote')
    .option('--json', 'one JSON array on stdout (local items carry remote: true|false when the run has a remote)')
    .action(async (opts: { kind?: string; remote?: boolean; allRuns?: boolean; json?: boolean }, cmd: Command) => {
      requireRemote('--all-runs', opts.allRuns, opts.remote);
      const { run } = loadRun(globals(cmd));
      const [{ listRemoteRecords, remoteIds }, { listRecords, listRecordsAndUsage, renderTable }] = await Promise.all([import('../client/list-remote.js'), import('../client/list.js')]);
      if (opts.remote) {
        const records = (await listRemoteRecords(run, opts.allRuns === true)).filter((r) => opts.kind === undefined || r.kind === opts.kind);
        if (opts.json) printJson(records);
        else process.stdout.write(`${renderTable(records.map((r) => ({ ...r, own_bytes: r.bytes })), Date.now(), process.stdout.columns ?? 120)}\nremote ${run.remote?.url ?? ''}: ${records.length} record(s)\n`);
        return;
      }
      if (opts.json) {
        const records = await listRecords(run, opts.kind);
        const onRemote = await remoteIds(run, (why) => process.stderr.write(`warning: the remote ${run.remote?.url ?? ''} could not be read (${why}); items carry no "remote" field\n`));
        printJson(onRemote === null ? records : records.map((r) => ({ ...r, remote: onRemote.has(r.id) })));
      } else {
        const { records, usage } = await listRecordsAndUsage(run, opts.kind);
        process.stdout.write(
          `${renderTable(records, Date.now(), process.stdout.columns ?? 120, run.retention.keepBest?.metric ?? null)}\n` +
            `store ${run.store}: ${usage.records} record(s), ${formatBytes(usage.diskBytes)} on disk (${formatBytes(usage.apparentBytes)} before sharing unchanged files)\n`,
        );
      }
    });

  program
    .command('show')
    .description('one snapshot or save in full, with its file manifest')
    .argument('<id>', 'an id or a unique prefix of one')
    .option('--json', 'one JSON object on stdout')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const { renderRecord, showRecord } = await import('../client/list.js');
      const record = await showRecord(run, id);
      if (opts.json) printJson(record);
      else process.stdout.write(`${renderRecord(record, Date.now())}\n`);
    });

  program
    .command('verify')
    .description('re-hash stored files against their manifests; report missing, changed or extra files; exit 1 on any')
    .argument('[ids...]', 'ids or unique prefixes (default: every snapshot and save)')
    .option('--remote', "check the run's remote instead: every object a manifest names exists with its size")
    .option('--read-data', 'with --remote: download and hash every object too')
    .option('--json', 'one JSON document on stdout')
    .action(async (ids: string[], opts: { remote?: boolean; readData?: boolean; json?: boolean }, cmd: Command) => {
      requireRemote('--read-data', opts.readData, opts.remote);
      const { run } = loadRun(globals(cmd));
      const [{ openRunRemote }, { runVerify }] = await Promise.all([import('../ops/remote-open.js'), import('./verify.js')]);
      const remote = opts.remote ? await openRunRemote(run) : null;
      try {
        const r = await runVerify({
          store: remote ?? run.store,
          ids,
          json: opts.json ?? false,
          isTTY: process.stderr.isTTY === true,
          stderr: process.stderr,
          ...(remote !== null && !opts.readData ? { check: (record) => remote.verifyExists(record) } : {}),
        });
        if (opts.json) printJson(r.output);
        else process.stdout.write(`${String(r.output)}\n`);
        setExit(r.exitCode);
      } finally {
        remote?.objects.close();
      }
    });
}

/** A flag that means something only about the remote is bad usage without `--remote`, not ignored. */
function requireRemote(flag: string, given: boolean | undefined, remote: boolean | undefined): void {
  if (given === true && remote !== true) throw new UsageError(`${flag} works only with --remote; add --remote, or leave ${flag} out`);
}
