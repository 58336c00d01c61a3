/**
 * The commands that change what a store holds, on a person's request: `restore`, `delete`,
 * `rename`, `note`, `pin`, `unpin`, and `diff` to look before acting. Changes go through the
 * daemon that holds the store, or run here under the store lock when none does (same code either
 * way: `executeOp`). Destructive ones show what will change and ask first, unless `--yes`.
 */
import readline from 'node:readline/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { RunConfig } from '../config/types.js';
import type { Diff } from '../ops/diff.js';
import type { StoreOp } from '../ops/types.js';
import type { Store } from '../store/store.js';
import type { RecordMeta } from '../store/types.js';
import { CkptdError, SafetyError, UsageError } from '../util/errors.js';
import { formatBytes, printableName } from '../util/format.js';
import { loadRun, printJson, type GlobalOptions } from './context.js';

/** Checks a name or notes given on the command line (`checkLabel` of `client/snapshot.ts`). */
type CheckLabel = (what: 'name' | 'notes', text: string | undefined) => string | null;

/** Asks "question [y/N]" on the terminal. Without a terminal, refuses (exit 3): scripts pass --yes. */
export async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new SafetyError('confirmation needed, but there is no terminal to ask on; pass --yes to go ahead');
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new CkptdError('cancelled; nothing was changed');
  } finally {
    rl.close();
  }
}

function listSome(paths: string[], max = 8): string {
  const shown = paths.slice(0, max).map((p) => `    ${printableName(p)}`);
  if (paths.length > max) shown.push(`    ... and ${paths.length - max} more`);
  return shown.join('\n');
}

/** Runs `use` with the run's local store, or its remote (closed afterwards). */
async function withStoreFor<T>(run: RunConfig, remote: boolean, use: (store: Store) => Promise<T>): Promise<T> {
  if (!remote) return use((await import('../store/local-store.js')).storeOf(run.store));
  const r = await (await import('../ops/remote-open.js')).openRunRemote(run);
  try {
    return await use(r);
  } finally {
    r.objects.close();
  }
}

/** The record `id` of the run's local store (or remote), an unknown one a usage error. */
function resolveIn(run: RunConfig, id: string, remote: boolean): Promise<RecordMeta> {
  return withStoreFor(run, remote, (store) => store.resolve(id)).catch((err: Error) => Promise.reject(err instanceof CkptdError ? err : new UsageError(err.message)));
}

/** Adds the commands to the program. `globals` reads --config/--run. */
export function addManageCommands(program: Command, globals: (cmd: Command) => GlobalOptions): void {
  program
    .command('restore')
    .description("replace the run's files with a snapshot's, byte for byte, after a pre-restore snapshot of the current state")
    .argument('<id>', 'the snapshot (an id or a unique prefix)')
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'restore even while the trainer is writing (or into a non-empty --to folder)')
    .option('--to <dir>', 'restore into this folder instead (a folder of its own: not the run, its store or save.to); the run is not touched')
    .option('--remote', "restore straight from the run's remote (SPEC section 8), with every safety of a local restore")
    .option('--json', 'print what was done as JSON')
    .action(async (id: string, opts: { yes?: boolean; force?: boolean; to?: string; remote?: boolean; json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const [{ isDamaged }, { previewRestore }, { runStoreOp }] = await Promise.all([import('../ops/delete.js'), import('../ops/restore.js'), import('../client/store-op.js')]);
      const meta = await resolveIn(run, id, opts.remote === true);
      if (meta.kind === 'save') throw new UsageError(`${meta.id} is a save (an exported model file), not a snapshot; its file is at ${meta.path}`);
      if (isDamaged(meta) && !opts.force) throw new SafetyError(`snapshot ${meta.id} is marked damaged by verify; restore it with --force only if you know what you need from it`);
      // An empty --to (a shell variable left unset) would otherwise mean the current folder.
      if (opts.to === '') throw new UsageError('--to needs a folder, got an empty string; to restore the run itself, leave --to out');
      const to = opts.to === undefined ? null : path.resolve(opts.to);
      if (to === null) {
        const plan = await previewRestore(run, meta);
        const sizeOf = plan.write.reduce((n, f) => n + f.size, 0);
        const lines = [
          `Restore ${meta.id} (${meta.kind}${meta.name ? ` "${meta.name}"` : ''}, epoch ${meta.epoch ?? '-'}, step ${meta.step ?? '-'}, ${meta.created}) into ${run.path}:`,
          `  ${plan.write.length} file(s) to write (${formatBytes(sizeOf)})${plan.write.length ? `:\n${listSome(plan.write.map((f) => f.path))}` : ''}`,
          `  ${plan.remove.length} file(s) to remove${plan.remove.length ? `:\n${listSome(plan.remove.map((f) => f.path))}` : ''}`,
          `  ${plan.confirm.length} file(s) that look the same (checked by hash)`,
          ...(plan.keep.length > 0 ? [`  ${plan.keep.length} file(s) kept as they are (the snapshot left them out):\n${listSome(plan.keep.map((f) => f.path))}`] : []),
          '  The current state is kept first as a pre-restore snapshot.',
        ];
        if (!opts.yes) process.stderr.write(`${lines.join('\n')}\n`);
        await confirm('Restore now?', opts.yes ?? false);
      } else {
        await confirm(`Restore ${meta.id} (${meta.files.length} files, ${formatBytes(meta.bytes)}) into ${to}?`, opts.yes ?? false);
      }
      const r = await runStoreOp(run, { kind: 'restore', id: meta.id, force: opts.force ?? false, to, remote: opts.remote === true }, process.stderr.isTTY === true && !opts.json);
      if (opts.json) printJson({ ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
    });

  program
    .command('delete')
    .description('delete snapshots or saves; refuses to remove the last good snapshot unless --force')
    .argument('<ids...>', 'ids or unique prefixes')
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'delete even the last good snapshot')
    .option('--remote', "delete from the run's remote instead: the manifests go now, their objects at the next garbage collection")
    .option('--json', 'print what was done as JSON')
    .action(async (ids: string[], opts: { yes?: boolean; force?: boolean; remote?: boolean; json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const [{ planDelete }, { runStoreOp }] = await Promise.all([import('../ops/delete.js'), import('../client/store-op.js')]);
      const plan = await withStoreFor(run, opts.remote === true, (store) => planDelete(store, ids, opts.force ?? false)).catch((err: Error) =>
        Promise.reject(err instanceof CkptdError ? err : new UsageError(err.message)),
      );
      if (!opts.yes) {
        const lines = plan.records.map((r) => `  ${r.id}  ${r.kind}${r.name ? ` "${r.name}"` : ''}  epoch ${r.epoch ?? '-'}  ${formatBytes(r.bytes)}${r.pinned ? '  PINNED' : ''}`);
        process.stderr.write(`Delete ${plan.records.length} record(s), freeing ${formatBytes(plan.freedBytes)}:\n${lines.join('\n')}\n`);
      }
      await confirm('Delete them?', opts.yes ?? false);
      const r = await runStoreOp(run, { kind: 'delete', ids: plan.records.map((x) => x.id), force: opts.force ?? false, remote: opts.remote === true }, false);
      if (opts.json) printJson({ ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
    });

  const label = (name: string, description: string, args: string[], toOp: (id: string, value: string | undefined, check: CheckLabel) => StoreOp): void => {
    const c = program.command(name).description(description).argument('<id>', 'an id or a unique prefix');
    for (const a of args) c.argument(a);
    c.option('--json', 'print the new labels as JSON').action(async (id: string, ...rest: unknown[]) => {
      const value = args.length > 0 ? (rest[0] as string) : undefined;
      const opts = rest[args.length] as { json?: boolean };
      const cmd = rest[args.length + 1] as Command;
      const { run } = loadRun(globals(cmd));
      const [{ checkLabel }, { runStoreOp }] = await Promise.all([import('../client/snapshot.js'), import('../client/store-op.js')]);
      // Messages name the argument as `--help` shows it (`<name>`), not the `--name` of `snapshot`.
      const check: CheckLabel = (what, text) => checkLabel(what, text, args[0]);
      const op = toOp(id, value, check);
      // An id that names no record is bad usage (exit 2); a record that cannot be written is a failure (exit 1).
      await resolveIn(run, id, false);
      const r = await runStoreOp(run, op, false);
      if (opts.json) printJson({ ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
    });
  };
  label('rename', 'give a snapshot or save a name ("" clears it)', ['<name>'], (id, v, check) => ({ kind: 'label', id, name: check('name', v) }));
  label('note', 'set the notes of a snapshot or save (may span lines; "" clears them)', ['<text>'], (id, v, check) => ({ kind: 'label', id, notes: check('notes', v) || null }));
  label('pin', 'never delete this snapshot automatically', [], (id) => ({ kind: 'label', id, pinned: true }));
  label('unpin', 'let retention rules apply to this snapshot again', [], (id) => ({ kind: 'label', id, pinned: false }));

  program
    .command('prune')
    .description('apply retention now; print every keep/delete decision with its reasons')
    .option('--dry-run', 'only show what would be deleted')
    .option('--json', 'one JSON object on stdout')
    .action(async (opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      if (opts.dryRun) {
        const [{ planStore }, { planJson, renderPlan }] = await Promise.all([import('../ops/retention.js'), import('../ops/render-plan.js')]);
        const plan = await planStore(run, Date.now());
        if (opts.json) printJson({ dry_run: true, ...planJson(plan) });
        else process.stdout.write(`${renderPlan(plan, true)}\n`);
        return;
      }
      const { runStoreOp } = await import('../client/store-op.js');
      const r = await runStoreOp(run, { kind: 'prune' }, false);
      if (opts.json) printJson({ dry_run: false, ...r.data, via_daemon: r.viaDaemon });
      else process.stdout.write(`${r.message}\n`);
    });

  program
    .command('diff')
    .description('files added, removed and changed between snapshot A and snapshot B (default: the run as it is now)')
    .argument('<a>', 'a snapshot id or prefix')
    .argument('[b]', 'another snapshot id or prefix (default: the live run)')
    .option('--json', 'one JSON object on stdout')
    .action(async (a: string, b: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const { run } = loadRun(globals(cmd));
      const [{ storeOf }, { diffManifests, diffWithRun }, { scanRunIfThere }] = await Promise.all([import('../store/local-store.js'), import('../ops/diff.js'), import('../ops/run-actions.js')]);
      const get = (x: string) => storeOf(run.store).resolve(x).catch((err: Error) => Promise.reject(new UsageError(err.message)));
      const from = await get(a);
      const to = b === undefined ? null : await get(b);
      const d = to === null ? diffWithRun(from.files, await scanRunIfThere(run)) : diffManifests(from.files, to.files);
      const label = to === null ? `the run now (${run.path})` : to.id;
      if (opts.json) printJson({ a: from.id, b: to?.id ?? 'run', ...d });
      else process.stdout.write(`${renderDiff(from.id, label, d)}\n`);
    });
}

/** The human form of a diff: one line per file, `+` added, `-` removed, `~` changed, with sizes. */
export function renderDiff(a: string, b: string, d: Diff): string {
  const lines = [`${a} → ${b}: ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`];
  for (const f of d.added) lines.push(`+ ${printableName(f.path)}  ${formatBytes(f.to ?? 0)}`);
  for (const f of d.removed) lines.push(`- ${printableName(f.path)}  ${formatBytes(f.from ?? 0)}`);
  for (const f of d.changed) lines.push(`~ ${printableName(f.path)}  ${formatBytes(f.from ?? 0)} → ${formatBytes(f.to ?? 0)}`);
  return lines.join('\n');
}
