/**
 * `ckptd run` sessions (SPEC section 7): the record a run leaves in its store, and the decisions
 * made from the previous one: was it interrupted, which backup `--resume` restores, what the
 * trainer's environment says. Pure: no file system, clock or process here (`store/session-file.ts`
 * reads and writes the record, `ops/session.ts` adds ckptd's exit code, `cli/run-command.ts` acts).
 */
/**
 * `<store>/session.json`. Written when CMD has started (`finished: false`) and again when it
 * ended. A record still saying `finished: false` is an interrupted run: CMD exited non-zero, died
 * by a signal, was stopped by a signal to ckptd, or ckptd or the machine went down meanwhile.
 */
export interface SessionRecord {
  format: 1;
  run: string;
  /** ISO 8601 UTC. */
  started: string;
  /**
   * Names this session: every snapshot its daemon takes carries it (`SnapshotMeta.session`), so a
   * backup taken of the run after ckptd was killed (by `ckptd daemon`, `backup-now`) is told apart
   * from the session's own. Missing in records written before it existed.
   */
  session_id?: string;
  /** The `ckptd run` process. */
  pid: number;
  host: string;
  /** The boot the session ran in (`/proc/sys/kernel/random/boot_id`); null where unknown. */
  boot_id: string | null;
  /** CMD, as given. */
  command: string[];
  cwd: string;
  /** CMD's process, and its start time in clock ticks after boot (tells a reused pid apart). */
  trainer_pid: number | null;
  trainer_start_ticks: string | null;
  /**
   * The processes CMD started (and those started), as `ckptd run` saw them while it ran, each with
   * its start time: a trainer orphaned by a wrapper that died is no longer CMD's descendant, and
   * after a crash of ckptd only this record tells it still belongs to the run. Missing in records
   * written before it existed.
   */
  trainer_tree?: TreeEntry[];
  /** The backup restored into the run before CMD started (`--resume`), or null. */
  restored_id: string | null;
  /** True only when CMD exited 0 without ckptd having been asked to stop it. */
  finished: boolean;
  /** ISO 8601 UTC; null while CMD runs (and forever after a crash). */
  ended: string | null;
  exit_code: number | null;
  /** The signal that ended CMD (e.g. `SIGKILL`), or null. */
  signal: string | null;
  /** The stop signal ckptd received while CMD ran (`SIGINT`, `SIGTERM`, `SIGHUP`), or null. */
  stopped_by: string | null;
  /**
   * When the newest `ckptd run` of this run that finished ended (null: none did). Backups taken
   * before it belong to a training that finished, so `--resume` never restores them.
   */
  last_finished: string | null;
}

/** A process of the trainer's tree: its pid and start time in clock ticks after boot. */
export interface TreeEntry {
  pid: number;
  start_ticks: string;
}

/** Reads a record's text; null for anything that is not a well-formed session record. */
export function parseSession(text: string): SessionRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const str = (x: unknown): x is string => typeof x === 'string';
  const strOrNull = (x: unknown): x is string | null => x === null || typeof x === 'string';
  const intOrNull = (x: unknown): x is number | null => x === null || Number.isInteger(x);
  const ok =
    r.format === 1 &&
    str(r.run) &&
    str(r.started) &&
    (r.session_id === undefined || str(r.session_id)) &&
    Number.isInteger(r.pid) &&
    str(r.host) &&
    strOrNull(r.boot_id) &&
    Array.isArray(r.command) &&
    r.command.every(str) &&
    str(r.cwd) &&
    intOrNull(r.trainer_pid) &&
    strOrNull(r.trainer_start_ticks) &&
    (r.trainer_tree === undefined || (Array.isArray(r.trainer_tree) && r.trainer_tree.every(isTreeEntry))) &&
    strOrNull(r.restored_id) &&
    typeof r.finished === 'boolean' &&
    strOrNull(r.ended) &&
    intOrNull(r.exit_code) &&
    strOrNull(r.signal) &&
    strOrNull(r.stopped_by) &&
    strOrNull(r.last_finished);
  return ok ? (r as unknown as SessionRecord) : null;
}



function isTreeEntry(e: unknown): e is TreeEntry {
  return typeof e === 'object' && e !== null && Number.isInteger((e as TreeEntry).pid) && typeof (e as TreeEntry).start_ticks === 'string';
}

/** A snapshot as the resume decision sees it (`SnapshotMeta` with `damaged` fits). */
export interface ResumeCandidate {
  id: string;
  kind: string;
  created: string;
  epoch: number | null;
  step: number | null;
  damaged?: boolean;
  /** True when it left files out (they kept changing): not the whole state. */
  incomplete?: boolean;
  /** The `SessionRecord.session_id` of the `ckptd run` whose daemon took it; absent otherwise. */
  session?: string;
}

/** True when there was a previous session and it did not finish. */
export function isInterrupted(previous: SessionRecord | null): boolean {
  return previous !== null && !previous.finished;
}

/** Why `previous` counts as interrupted, for people: "the previous `ckptd run` (...) ...". */
export function describeInterruption(previous: SessionRecord): string {
  const what = `the previous \`ckptd run\` of ${previous.run} (started ${previous.started}: ${previous.command.join(' ')})`;
  if (previous.stopped_by !== null) return `${what} was stopped by ${previous.stopped_by} before the trainer finished`;
  if (previous.signal !== null) return `${what} did not finish: the trainer was killed by ${previous.signal}`;
  if (previous.exit_code !== null) return `${what} did not finish: the trainer exited with code ${previous.exit_code}`;
  return `${what} did not finish: ckptd or the machine went down while the trainer ran`;
}

/**
 * The backups `--resume` may restore, in the order it tries them; one rule for the local store
 * and the remote. Policy backups (kind `backup`) not marked damaged, of the training `previous`
 * interrupted (`ofInterruptedTraining`). Complete ones first, newest first; then, only for when
 * none of those can be restored, the incomplete ones (files left out because they kept changing),
 * newest first: restoring one puts back all it holds and leaves the files it lacks as the run has
 * them, which beats starting on what the crash left, and its pre-restore snapshot keeps that.
 */
export function resumeCandidates<T extends ResumeCandidate>(snapshots: readonly T[], previous: SessionRecord | null): T[] {
  const own = previous?.session_id === undefined ? [] : snapshots.filter((s) => s.session === previous.session_id).map((s) => s.id);
  const newestOwn = own.reduce<string | null>((newest, id) => (newest === null || id > newest ? id : newest), null);
  const newestFirst = snapshots
    .filter((s) => s.kind === 'backup' && s.damaged !== true && ofInterruptedTraining(s, previous, newestOwn))
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return [...newestFirst.filter((s) => s.incomplete !== true), ...newestFirst.filter((s) => s.incomplete === true)];
}

/**
 * True when backup `s` holds a state of the training `previous` interrupted, not one a crash left:
 * - taken after the last finished session (`last_finished`), or by its own ckptd: older ones are
 *   of a finished training;
 * - no later than `previous` ended when its end is recorded (the trainer failed or was stopped):
 *   one taken since (a `ckptd daemon` or `backup-now` on the crashed run) may hold files torn
 *   mid-write that looked settled;
 * - with no end recorded (ckptd or the machine went down), one taken after `previous` started only
 *   when its own ckptd took it (`session`), for the same reason; nor one whose id sorts after the
 *   newest its own ckptd took (`newestOwn`): ids keep the order backups were taken in, where a
 *   clock stepped back at a reboot makes a later one look older than the session;
 * - when `previous` was itself resumed from a backup (`restored_id`), none taken after that backup
 *   and before `previous` started but by its own daemon: it restored over them (they are what an
 *   earlier crash left).
 * A session recorded before sessions were named (no `session_id`) keeps the time rules only.
 */
function ofInterruptedTraining(s: ResumeCandidate, previous: SessionRecord | null, newestOwn: string | null): boolean {
  if (previous === null) return true;
  const t = Date.parse(s.created);
  const started = Date.parse(previous.started);
  // Its daemon starts before CMD (and `started`): a backup it took then is still its own.
  const ownBackup = previous.session_id !== undefined && s.session === previous.session_id;
  // Its own are after the last finished session by construction, whatever a clock stepped back says.
  if (previous.last_finished !== null && t <= Date.parse(previous.last_finished) && !ownBackup) return false;
  if (previous.ended !== null && t > Date.parse(previous.ended)) return false;
  if (previous.ended === null && previous.session_id !== undefined && (t >= started || (newestOwn !== null && s.id > newestOwn)) && !ownBackup) return false;
  return !(previous.restored_id !== null && s.id > previous.restored_id && t < started && !ownBackup);
}

/** What `ckptd run` does before starting CMD, and the line that tells the person why. */
export interface ResumeDecision<T> {
  /** The backup to restore into the run first, or null to start CMD on the run as it is. */
  restore: T | null;
  /** One line for stderr; null when there is nothing to say (a plain start after a finished run). */
  reason: string | null;
}

/**
 * Decides whether to restore before starting CMD. Only an interrupted previous session with
 * `--resume` restores, and then the first of `candidates` (`resumeCandidates`: a complete backup
 * before a newer incomplete one). Without `--resume`, an interrupted session gets a hint naming
 * the backup `--resume` would restore.
 */
export function decideResume<T extends ResumeCandidate>(previous: SessionRecord | null, resume: boolean, candidates: readonly T[]): ResumeDecision<T> {
  if (previous === null || !isInterrupted(previous)) {
    if (!resume) return { restore: null, reason: null };
    const why = previous === null ? 'no earlier `ckptd run` of this run is recorded' : `the previous \`ckptd run\` finished (${previous.ended ?? 'exit 0'})`;
    return { restore: null, reason: `--resume: nothing to resume (${why}); starting the trainer on the run as it is` };
  }
  const why = describeInterruption(previous);
  const newest = candidates[0] ?? null;
  const since = previous.last_finished ? ` since the last finished run (${previous.last_finished})` : '';
  if (newest === null) {
    // Backups taken after it ended may be there: they hold what its end left, so they do not count.
    return {
      restore: null,
      reason: `${why}; no good backup was taken${since} before it ended, so there is nothing to restore (\`ckptd run --help\` says which backups count): starting the trainer on the run as it is`,
    };
  }
  if (!resume) {
    return { restore: null, reason: `${why}; starting the trainer on the run as it is (\`ckptd run --resume\` would first restore backup ${newest.id}, ${describeProgress(newest)})` };
  }
  return { restore: newest, reason: `${why}; restoring backup ${newest.id} (${describeProgress(newest)}) before starting the trainer${passedOver(newest, candidates)}` };
}

/** Why `chosen` is restored rather than a newer backup that left files out (`resumeCandidates`'s order), or ''. */
function passedOver(chosen: ResumeCandidate, candidates: readonly ResumeCandidate[]): string {
  const newer = candidates.filter((c) => c.incomplete === true && c.id > chosen.id);
  if (chosen.incomplete === true || newer.length === 0) return '';
  const names = newer.map((c) => c.id).join(', ');
  return ` (backup ${names} ${newer.length === 1 ? 'is' : 'are'} newer but incomplete: files that kept changing were left out, so a complete backup comes first)`;
}

function describeProgress(s: ResumeCandidate): string {
  return `epoch ${s.epoch ?? '?'}, step ${s.step ?? '?'}, taken ${s.created}`;
}

/** The record of a session that has just started CMD; carries `last_finished` over from `previous`. */
export function startSession(
  previous: SessionRecord | null,
  fields: Pick<SessionRecord, 'run' | 'started' | 'session_id' | 'pid' | 'host' | 'boot_id' | 'command' | 'cwd' | 'trainer_pid' | 'trainer_start_ticks' | 'restored_id'>,
): SessionRecord {
  const lastFinished = previous === null ? null : previous.finished ? (previous.ended ?? previous.started) : previous.last_finished;
  return {
    format: 1,
    ...fields,
    finished: false,
    ended: null,
    exit_code: null,
    signal: null,
    stopped_by: null,
    last_finished: lastFinished,
  };
}

/** How CMD ended, and whether ckptd was asked to stop it. */
export interface TrainerOutcome {
  /** ckptd's exit code for it (`exitCodeOf`). */
  exitCode: number;
  signal: string | null;
  /** The stop signal ckptd passed on, or null. */
  stoppedBy: string | null;
  /** ISO 8601 UTC. */
  ended: string;
}

/**
 * The record once CMD ended. It finished only when CMD exited 0 and nobody asked it to stop: a
 * trainer that saves and exits 0 on Ctrl-C, SIGTERM or SIGHUP has been interrupted, not finished, so its
 * backups stay and `--resume` restores them.
 */
export function concludeSession(record: SessionRecord, outcome: TrainerOutcome): SessionRecord {
  return {
    ...record,
    finished: finishedCleanly(outcome.exitCode, outcome.stoppedBy),
    ended: outcome.ended,
    exit_code: outcome.signal === null ? outcome.exitCode : null,
    signal: outcome.signal,
    stopped_by: outcome.stoppedBy,
  };
}

/** True when a trainer's end counts as a finished training: exit 0, and nobody asked it to stop. */
export function finishedCleanly(exitCode: number, stoppedBy: string | null): boolean {
  return exitCode === 0 && stoppedBy === null;
}

/**
 * The pid of a process of the trainer of `previous` that may still be running, or null. Only for
 * a session that never recorded its end, on the same host and boot: CMD when its pid exists and
 * (where its start time was recorded) it is the same process, not a reused pid; else a process
 * of its tree (`trainer_tree`) with the same pid and start time, such as a trainer its wrapper
 * left running. `now` reads this machine; `startTicksOf` a pid's start time (null when gone or
 * unknown).
 */
export function previousTrainerAlive(
  previous: SessionRecord,
  now: { host: string; bootId: string | null; pidExists: (pid: number) => boolean; startTicksOf: (pid: number) => string | null },
): number | null {
  if (previous.finished || previous.ended !== null) return null;
  if (previous.host !== now.host) return null;
  if (previous.boot_id !== null && now.bootId !== null && previous.boot_id !== now.bootId) return null;
  const pid = previous.trainer_pid;
  if (pid !== null && now.pidExists(pid)) {
    const ticks = previous.trainer_start_ticks === null ? null : now.startTicksOf(pid);
    if (ticks === null || ticks === previous.trainer_start_ticks) return pid;
  }
  return (previous.trainer_tree ?? []).find((p) => now.pidExists(p.pid) && now.startTicksOf(p.pid) === p.start_ticks)?.pid ?? null;
}

/** What CMD finds in its environment besides ckptd's own. */
export interface TrainerEnvFacts {
  run: string;
  store: string;
  /** The config file, so `ckptd progress` inside CMD finds the same config; null for none. */
  configFile: string | null;
  /** The backup restored into the run before the start, or null. */
  restored: { id: string; epoch: number | null; step: number | null } | null;
}

/**
 * CMD's environment: `base` plus `CKPTD_RUN`, `CKPTD_STORE` (and `CKPTD_CONFIG` when there is a
 * config file); after a restore `CKPTD_RESTORED_ID`, and `CKPTD_EPOCH` / `CKPTD_STEP` when the
 * backup knows them. Unknown values are unset, never empty, and values inherited from `base` (a
 * `ckptd run` inside another) are removed, so "set" always means "true for this start".
 */
export function trainerEnv(base: NodeJS.ProcessEnv, facts: TrainerEnvFacts): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, CKPTD_RUN: facts.run, CKPTD_STORE: facts.store };
  for (const k of ['CKPTD_RESTORED_ID', 'CKPTD_EPOCH', 'CKPTD_STEP']) delete env[k];
  if (facts.configFile !== null) env.CKPTD_CONFIG = facts.configFile;
  if (facts.restored !== null) {
    env.CKPTD_RESTORED_ID = facts.restored.id;
    if (facts.restored.epoch !== null) env.CKPTD_EPOCH = String(facts.restored.epoch);
    if (facts.restored.step !== null) env.CKPTD_STEP = String(facts.restored.step);
  }
  return env;
}

/**
 * Whether `ckptd run --resume` restores from the run's remote (SPEC sections 7 and 8): only with
 * `--resume`, a remote, no backup at all in the local store (a fresh machine, or a new pod whose
 * disk died with the old one), and no record of a finished `previous` session: after a training
 * finished (and `delete_on_finish` removed its local backups), the remote still holds that
 * training's backups, and restoring one would put an older state back over its final one. A local
 * store holding backups is the truth for its own machine; the remote is never consulted then.
 * Returns the line that says so, or null.
 */
export function resumeFromRemote(
  resume: boolean,
  hasRemote: boolean,
  localBackups: number,
  previous: SessionRecord | null,
): { yes: boolean; reason: string | null } {
  if (!resume || localBackups > 0 || !hasRemote) return { yes: false, reason: null };
  if (previous !== null && !isInterrupted(previous)) return { yes: false, reason: null };
  return { yes: true, reason: '--resume: the local store holds no backup of this run; resuming from the newest verified backup on its remote' };
}
