/**
 * `ckptd run [--resume] -- CMD...` (SPEC section 7): BackupAndRestore for any trainer.
 *
 * 1. Holding the store lock: read the previous session; refuse (exit 3) while its trainer still
 *    runs; with `--resume` after an interrupted session, restore the newest good backup of that
 *    training (`resumeCandidates`: taken since the last finished session, never after the
 *    interrupted one ended; a complete one first), a pre-restore snapshot keeping what the run held.
 * 2. Start a `Daemon` for this one run (its policies, exactly as `ckptd daemon` applies them),
 *    following edits of the config file live: this run's, but for its store and folder, which stay
 *    for this training (`narrowToRun`); other runs of the file are never watched.
 * 3. Start CMD with `CKPTD_RUN`, `CKPTD_STORE`, `CKPTD_CONFIG` and, after a restore,
 *    `CKPTD_RESTORED_ID`, `CKPTD_EPOCH`, `CKPTD_STEP`; record the session (`finished: false`).
 * 4. When CMD was killed by a signal, or ckptd was asked to stop, while processes it started still
 *    run (CMD was a wrapper), wait for them too: the daemon keeps backing up, and signals reach
 *    them (`TrainerTree`, `SignalRelay`). What a CMD that exited on its own left running is named,
 *    not waited for.
 *    When CMD exited 0, wait until its final state has settled and the daemon has evaluated it
 *    (backed up if a policy wants that). After a failure the final state is not waited for: a
 *    trainer killed mid-write leaves files that look settled but are torn.
 * 5. Record how CMD ended (while the daemon still holds the store), stop the daemon, and, when it
 *    finished, apply `delete_on_finish` as the config file says it then (an edit during the run
 *    counts), unless another `ckptd run` of the run has started since.
 * ckptd's exit code is CMD's (128 + N when signal N killed it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Config, RunConfig } from '../config/types.js';
import { Daemon } from '../daemon/daemon.js';
import { EvaluationTracker } from '../daemon/evaluation-tracker.js';
import { limitHeapGrowth } from '../daemon/heap-growth.js';
import { waitForSettled } from '../ops/settle.js';
import {
  concludeSession,
  decideResume,
  exitCodeOf,
  finishedCleanly,
  previousTrainerAlive,
  resumeCandidates,
  resumeFromRemote,
  startSession,
  trainerEnv,
  type SessionRecord,
} from '../ops/session.js';
import { storeOf } from '../store/local-store.js';
import { stateDigest } from '../store/scan.js';
import { readSession, writeSession } from '../store/session-file.js';
import type { ScanEntry } from '../store/types.js';
import { SafetyError, UsageError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import { pidExists, readBootId, readProcStat } from '../util/proc-stat.js';
import { readCommandLine } from '../util/proc-tree.js';
import { surviveLostOutput } from '../util/lost-output.js';
import { tapLogger } from '../util/tap-logger.js';
import { withStoreLock } from '../client/one-shot.js';
import { restoreNewest, restoreNewestRemote, say, type Restored } from './run-resume.js';
import { applyDeleteOnFinish } from './run-finish.js';
import { SessionRecorder } from './run-session.js';
import { SignalRelay } from './run-signals.js';
import { TrainerTree } from './run-tree.js';

/** After CMD exited 0: how long the final state may take to settle, beyond `settle`. */
const FINAL_SETTLE_EXTRA_MS = 30_000;
/** After it settled: how long the daemon may stay silent before its evaluation is given up on. */
const FINAL_EVALUATION_QUIET_MS = 20_000;

export interface RunCommandOptions {
  config: Config;
  run: RunConfig;
  resume: boolean;
  /** CMD and its arguments. */
  argv: string[];
}

/**
 * Runs `ckptd run`; resolves with CMD's exit code (128 + N for signal N; 127 when CMD cannot be
 * found, 126 when it cannot be executed). Throws `SafetyError` (exit 3) when the store is held by
 * another ckptd, the previous trainer still runs, or the run does not settle for a restore.
 */
export async function runCommand(opts: RunCommandOptions): Promise<number> {
  const { config, run, resume, argv } = opts;
  if (argv.length === 0 || argv[0] === '') throw new UsageError('ckptd run needs the command to run: ckptd run [--resume] -- CMD [ARGS...]');
  limitHeapGrowth();
  // A log reader that went away costs the log lines, never the supervision: an unhandled EPIPE
  // would end ckptd and leave the trainer running without backups or a record of how it ended.
  const outputKept = surviveLostOutput();
  // stderr: the trainer's stdout is its own (a script may read or redirect it).
  const root = createLogger(config.log, { stream: 'stderr' });
  const tracker = new EvaluationTracker(run.name);
  const logger = tapLogger(root, tracker.listener);
  const log = logger.child({ run: run.name });
  const relay = new SignalRelay(log);
  relay.install();
  try {
    const { previous, restored } = await withStoreLock(run, 'run', () => prepare(run, resume, log));
    if (relay.stopRequested) return exitCodeOf(null, relay.stopRequested);

    // Named before the daemon starts: each snapshot it takes carries the name (see `resumeCandidates`).
    const sessionId = randomUUID();
    let daemon: Daemon;
    try {
      daemon = await Daemon.start({
        config: { ...config, runs: [run] },
        logger,
        watchConfigFile: true,
        onlyRun: run.name,
        session: sessionId,
        onFatal: (message) => say(`${message}; the trainer keeps running, without backups`),
      });
    } catch (err) {
      if ((err as Error).name === 'StoreLockedError') throw new SafetyError((err as Error).message);
      throw err;
    }

    if (relay.stopRequested) {
      await daemon.stop();
      return exitCodeOf(null, relay.stopRequested);
    }
    const env = trainerEnv(process.env, { run: run.name, store: run.store, configFile: config.file, restored });
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const spawnError = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    if (spawnError !== null) {
      const code = (spawnError as NodeJS.ErrnoException).code;
      say(`cannot start ${argv[0]}: ${spawnError.message}`);
      await daemon.stop();
      return code === 'ENOENT' ? 127 : code === 'EACCES' ? 126 : 1;
    }
    // Errors after the start (a failed kill) are reported where they happen.
    child.on('error', () => undefined);
    const tree = new TrainerTree(child, log);
    relay.attach(tree);
    tree.follow();
    log.info(`trainer started (pid ${child.pid}): ${argv.join(' ')}`, { event: 'trainer-start', pid: child.pid, restored: restored?.id ?? null });
    const session = await recordStart(run, previous, sessionId, argv, child, restored, log);
    const recorder = session && new SessionRecorder(run.store, session, log);
    if (recorder) {
      tree.onSeen = (known) => recorder.tree(known);
      // Seen before the record was written: CMD's first processes.
      if (tree.known().length > 1) recorder.tree(tree.known());
    }
    // Only now: the trainer took this process's priority when it was started, and must keep its
    // own; and after the session record, which a crash from here on must find.
    await daemon.applyPriority();

    const { code, signal } = await exited;
    const exitCode = exitCodeOf(code, signal);
    const cmdEnd = signal ? `trainer (pid ${child.pid}) was killed by ${signal}` : `trainer (pid ${child.pid}) exited with code ${code}`;
    log.info(cmdEnd, { event: 'trainer-exit', exit_code: exitCode, signal });
    // A wrapper killed by a signal, or asked to stop, is not the training's end: its trainer may
    // run on (orphaned, or still checkpointing on the signal), writing the run. It is watched, and
    // reached by signals, until it ends; only then is the run concluded. A wrapper that exited on
    // its own decided what outlives it (`tensorboard &`).
    tree.stop();
    let leftRunning = '';
    if (signal !== null || relay.stoppedBy !== null) {
      relay.reachLeftovers();
      // Named in the record before the wait, which may be long: a kill of ckptd meanwhile must
      // leave a record that still tells the next `ckptd run` they are the run's.
      await recorder?.flushed();
      await tree.ended(cmdEnd);
    } else leftRunning = tree.leftRunning(cmdEnd);
    relay.trainerExited();

    // As edited by now: the final state is the one its include/exclude and settle define.
    if (exitCode === 0) await awaitFinalEvaluation(daemon.runConfig(run.name) ?? run, tracker, relay.wrapUp, log);
    else log.info('not waiting for a backup of the state the trainer left: it did not finish cleanly (an unfinished write can look settled)', { event: 'no-final-evaluation' });
    // Recorded while the daemon still holds the store: a `ckptd run` started once it lets go
    // must read how this one ended, never the `finished: false` of a session still running,
    // which it would take for an interruption and resume over the final state.
    const concluded = recorder && concludeSession(await recorder.close(), { exitCode, signal, stoppedBy: relay.stoppedBy, ended: new Date().toISOString() });
    const recorded = concluded !== null && (await writeSession(run.store, concluded).then(
      () => true,
      (err: unknown) => (log.error(`could not record how the run ended: ${(err as Error).message}`), false),
    ));
    await daemon.stop().catch((err: unknown) => log.error(`error while stopping the daemon: ${(err as Error).message}`));

    const finished = finishedCleanly(exitCode, relay.stoppedBy);
    if (!finished) {
      log.info(`the run is recorded as interrupted; \`ckptd run --resume\` restores its newest backup`, { event: 'run-interrupted' });
    } else {
      await applyDeleteOnFinish(config, run, { wrapUpCut: relay.wrapUp.aborted, leftRunning, session: recorded ? concluded : null }, log);
    }
    return exitCode;
  } finally {
    relay.dispose();
    await root.close();
    outputKept();
  }
}


/** Step 1, holding the store lock: the previous session, and the restore `--resume` asks for. */
async function prepare(run: RunConfig, resume: boolean, log: Logger): Promise<{ previous: SessionRecord | null; restored: Restored | null }> {
  const previous = await readSession(run.store, (m) => log.warn(m));
  const alive =
    previous &&
    previousTrainerAlive(previous, {
      host: os.hostname(),
      bootId: readBootId(),
      pidExists,
      startTicksOf: (pid) => readProcStat(pid)?.startTicks ?? null,
    });
  if (previous && alive) {
    const what = alive === previous.trainer_pid ? previous.command.join(' ') : `${readCommandLine(alive) ?? '?'}, started by ${previous.command.join(' ')}`;
    throw new SafetyError(
      `the trainer of the previous \`ckptd run\` of ${run.name} is still running (pid ${alive}: ${what}); ` +
        'its ckptd is gone, so nothing backs it up; stop it (or let it finish) before starting another',
    );
  }
  const local = await storeOf(run.store).listSnapshotHeaders();
  const fromRemote = resumeFromRemote(resume, run.remote !== null, local.filter((s) => s.kind === 'backup').length, previous);
  if (fromRemote.yes) {
    say(fromRemote.reason!);
    return { previous, restored: await restoreNewestRemote(run, previous, log) };
  }
  const candidates = resumeCandidates(local, previous);
  const decision = decideResume(previous, resume, candidates);
  if (decision.reason !== null) say(decision.reason);
  if (decision.restore === null) return { previous, restored: null };
  return { previous, restored: await restoreNewest(run, candidates, log) };
}

/** Writes the session record once CMD runs; a failure is logged (the run goes on without it). */
async function recordStart(
  run: RunConfig,
  previous: SessionRecord | null,
  sessionId: string,
  argv: string[],
  child: ChildProcess,
  restored: Restored | null,
  log: Logger,
): Promise<SessionRecord | null> {
  const session = startSession(previous, {
    run: run.name,
    started: new Date().toISOString(),
    session_id: sessionId,
    pid: process.pid,
    host: os.hostname(),
    boot_id: readBootId(),
    command: argv,
    cwd: process.cwd(),
    trainer_pid: child.pid ?? null,
    trainer_start_ticks: child.pid === undefined ? null : (readProcStat(child.pid)?.startTicks ?? null),
    restored_id: restored?.id ?? null,
  });
  try {
    await writeSession(run.store, session);
    return session;
  } catch (err) {
    log.error(`could not record the session in ${run.store}: ${(err as Error).message}; if this run is interrupted, --resume will not know`, { event: 'error' });
    return null;
  }
}

/**
 * After CMD exited 0: waits until the run's final state has settled, then until the daemon has
 * evaluated exactly that state (and taken what its policies want). Bounded; a signal cuts it short.
 */
async function awaitFinalEvaluation(run: RunConfig, tracker: EvaluationTracker, wrapUp: AbortSignal, log: Logger): Promise<void> {
  const aborted = new Promise<'aborted'>((resolve) => {
    if (wrapUp.aborted) resolve('aborted');
    wrapUp.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  const settling = waitForSettled(run, run.settleMs + FINAL_SETTLE_EXTRA_MS, () => undefined);
  settling.catch(() => undefined);
  let entries: ScanEntry[];
  try {
    const r = await Promise.race([settling, aborted]);
    if (r === 'aborted') return;
    entries = r;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    log.warn(`the final state was not evaluated: ${(err as Error).message}`, { event: 'final-evaluation', outcome: 'not-settled' });
    return;
  }
  if (entries.length === 0) return;
  const digest = stateDigest(entries);
  const how = await tracker.waitFor(digest, run.settleMs + FINAL_EVALUATION_QUIET_MS, wrapUp);
  if (how === 'evaluated') log.debug('final state evaluated', { event: 'final-evaluation', outcome: how, digest });
  else if (how === 'timeout') log.warn('the daemon did not evaluate the final state in time; it may not be backed up', { event: 'final-evaluation', outcome: how });
}
