/**
 * Types shared by the pure policy core. Nothing here touches the file system, timers or the clock:
 * the shell gathers facts, passes `now` in, and acts on the decisions it gets back.
 */

/** How often a policy fires, normalized from the YAML grammar (`3 epochs`, `30 minutes`, `always`, ...). */
export type Every =
  | { unit: 'never' }
  | { unit: 'changes'; n: number }
  | { unit: 'epochs'; n: number }
  | { unit: 'steps'; n: number }
  | { unit: 'time'; ms: number };

/** Training progress as read from the trainer's files. Any field may be unknown. */
export interface Progress {
  epoch: number | null;
  step: number | null;
  loss: number | null;
  /** Other numeric metrics (e.g. `eval_loss`, `learning_rate`). */
  metrics: Record<string, number>;
  /** Which source produced the values (e.g. `hf`, `ckptd-progress`), or null when none did. */
  source: string | null;
  /** What the trainer's own files say about the model being trained; only when a source read it (`dfl`). */
  trainer?: TrainerInfo;
}

/**
 * A trainer's own account of the model it trains, shown with a snapshot (`trainer` in
 * `snapshot.json`). Descriptive only: no policy reads it.
 */
export interface TrainerInfo {
  /** The trainer as its users call it, e.g. `DeepFaceLab`. */
  name: string;
  /** The trainer's name for the model, e.g. DeepFaceLab's `new_SAEHD`; null when unknown. */
  model: string | null;
  /** The model's options as the trainer prints them, in its order (`resolution: "224"`, `archi: "liae-ud"`). */
  options: Record<string, string>;
}

export const NO_PROGRESS: Progress = { epoch: null, step: null, loss: null, metrics: {}, source: null };

/** The two policies of a run. */
export type PolicyName = 'backup' | 'save';

/**
 * What one policy remembers between evaluations. Persisted in the store (`state.json`) so that a
 * daemon restart or a config reload keeps counters and anchors.
 */
export interface PolicyState {
  /** Epoch at the last snapshot of this policy (the crossing anchor); null = none yet. */
  lastEpoch: number | null;
  /** Step at the last snapshot of this policy; null = none yet. */
  lastStep: number | null;
  /** Time anchor (ms since the Unix epoch): when this policy last fired, or when the run was first seen. */
  anchorAt: number | null;
  /** Settled changes of the state counted since this policy last fired. */
  changes: number;
  /** `stateDigest` of the state this policy last captured; null = none yet. */
  lastDigest: string | null;
}

export interface RunState {
  backup: PolicyState;
  save: PolicyState;
}

export const EMPTY_POLICY_STATE: PolicyState = {
  lastEpoch: null,
  lastStep: null,
  anchorAt: null,
  changes: 0,
  lastDigest: null,
};

export const EMPTY_RUN_STATE: RunState = { backup: EMPTY_POLICY_STATE, save: EMPTY_POLICY_STATE };

/**
 * The facts the shell gathered about a settled state of a run, at the moment of evaluation.
 * The core is only ever asked about settled states.
 */
export interface Facts {
  /** Current progress of the run. */
  progress: Progress;
  /** Digest of the current state (paths, sizes, mtimes of the included files). */
  digest: string;
  /** `stateDigest` of the newest snapshot of any kind in the store, or null when there is none. */
  newestSnapshotDigest: string | null;
  /**
   * True when this settled state is a new change: it differs from the previous settled state the
   * shell evaluated (or, on the first evaluation after start, from the newest snapshot).
   */
  changed: boolean;
  /** Cron schedules that ticked since the last evaluation. */
  cronDue: { backup: boolean; save: boolean };
  /** A person or script asked for a backup now (`ckptd backup-now`). */
  backupNow: boolean;
  /**
   * The newest snapshot is a policy backup that left out files (still being written when it was
   * taken) which this settled state now holds: its id and those paths. Omitted or null: none.
   */
  completes?: { id: string; paths: string[] } | null;
}

/** The policy settings the core reads; a subset of the normalized run config. */
export interface PolicyConfig {
  backup: { every: Every; cron: string | null; beforeSave: boolean };
  save: { every: Every; cron: string | null };
}

/** Something the shell should do, in order. `trigger` is short and machine-friendly, `reason` is for people. */
export interface Action {
  kind: PolicyName;
  /** e.g. `every 2 epochs`, `cron`, `backup-now`, `before-save`, `every 30 minutes`, `every 3 changes`. */
  trigger: string;
  reason: string;
}

/** Why a policy did not fire on this evaluation (logged so a person can see the rule at work). */
export interface Skip {
  kind: PolicyName;
  reason: string;
}

export interface Decision {
  /** Ordered: a backup always comes before the save it precedes. */
  actions: Action[];
  skips: Skip[];
  /** The run state after counting this evaluation (changes counted, first-seen anchors set). */
  state: RunState;
}
