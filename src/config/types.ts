/**
 * The two config types: `RawConfig` is what the YAML says (optional keys, strings like "30m");
 * `Config` is the normalized form every other module uses (every key present, ms, bytes,
 * absolute paths, parsed policies).
 */
import type { Priority } from '../policy/process-priority.js';
import type { SavePickSetting } from '../policy/save-pick.js';
import type { Every } from '../policy/types.js';

/** Re-exported: defined by the logger they configure. */
export type { LogFormat, LogLevel } from '../util/logger.js';
import type { LogFormat, LogLevel } from '../util/logger.js';

/** Where progress (epoch/step/loss) is read from. */
export type ProgressSpec =
  | { kind: 'none' }
  | { kind: 'auto' }
  | { kind: 'preset'; preset: 'hf' | 'lightning' | 'keras' | 'onetrainer' | 'kohya' | 'dfl' }
  /**
   * A JSON or YAML file (relative to the run folder) with key paths such as `log_history[-1].loss`;
   * `metrics` maps a metric's name to its key path (`{valid_loss: "$[-1].valid_loss"}`), `{}` for none.
   */
  | { kind: 'file'; file: string; epoch: string | null; step: string | null; loss: string | null; metrics: Record<string, string> }
  /** A regex whose named groups `epoch`, `step`, `loss` are read from file names (newest match wins). */
  | { kind: 'filename'; pattern: string };

export interface KeepBest {
  metric: string;
  mode: 'min' | 'max';
  count: number;
}

export interface RunConfig {
  /** `[a-z0-9._-]+`, unique in the file. */
  name: string;
  /** Absolute path of the folder the trainer writes. */
  path: string;
  /** Absolute path of the run's store. Default `<path's parent>/.ckptd/<name>`. */
  store: string;
  include: string[];
  exclude: string[];
  /**
   * Absolute paths of ckptd's own files: the config file, `log.file` and `metrics.file` (those that
   * are set). Never part of the state, like the store: where one lies inside the run, it is never
   * captured, restored over or counted as the trainer's activity.
   */
  ownFiles: string[];
  settleMs: number;
  /** `auto`: inotify, falling back to polling when the watch limit is hit; `poll`: always poll (network file systems). */
  watch: 'auto' | 'poll';
  /**
   * `low` (default): the daemon works at a lower CPU and IO priority than the trainer; `normal`:
   * backups as fast as the machine allows. One process serves every run: see `processPriority`.
   */
  priority: Priority;
  progress: ProgressSpec;
  /** Shown as the snapshots' `model_type`; null: detected from the files (safetensors metadata, config.json, ...). */
  modelType: string | null;
  backup: {
    every: Every;
    /** The YAML text of `every`, for messages (e.g. "3 epochs"). */
    everyText: string;
    cron: string | null;
    rolling: boolean;
    keep: number;
    beforeSave: boolean;
    deleteOnFinish: boolean;
  };
  save: {
    every: Every;
    everyText: string;
    cron: string | null;
    files: string[];
    prefix: string;
    /** Absolute path. Default `<store>/saves`. */
    to: string;
    /** Keep only the newest N saves (pinned ones always stay); null keeps every save. */
    keep: number | null;
    /** All matching files, or the newest model among them; `auto` decides by the trainer (see `savePickFor`). */
    pick: SavePickSetting;
  };
  retention: KeepRules & {
    /** Free disk a snapshot must leave; backups are pruned (else the snapshot refused) before crossing it. */
    minFreeBytes: number;
  };
  /** Where this run's snapshots are pushed (SPEC section 8); null: nowhere. See `RemoteConfig`. */
  remote: RemoteConfig | null;
}

/** The retention rules the local `retention` section and a remote's `keep` share. */
export interface KeepRules {
  keepBest: KeepBest | null;
  /** Newest good backup of each of the last N hours/days/weeks (0 = off). */
  keepHourly: number;
  keepDaily: number;
  keepWeekly: number;
  maxSizeBytes: number | null;
  /** A backup younger than this is never removed by a size rule (max_size, min_free) alone. */
  minAgeMs: number;
}

/** Which snapshots are pushed: `backups` (backup, manual, pre-restore), `all` (saves too), `none`. */
export type RemotePush = 'backups' | 'all' | 'none';

/**
 * A run's remote on S3-compatible storage (SPEC section 8), normalized. Credentials are never part
 * of it: they come only from the AWS SDK's default chain.
 *
 * Which remote a run has: its own `remote:` block laid over the top-level one key by key (one
 * level deep: a run's `keep` replaces the top-level `keep` whole), else the top-level one, else
 * none. A run that names its own `url` names its own service, so `endpoint`, `region` and
 * `force_path_style` then come from its own block or their defaults, never from the top level.
 * `remote: null` in a run: no remote for it at all. `push: none`: nothing is pushed on its own,
 * but the remote stays known (for listing, pulling and restoring from it).
 */
export interface RemoteConfig {
  /** Canonical `s3://bucket` or `s3://bucket/prefix` (no trailing slash). */
  url: string;
  bucket: string;
  /** The key prefix without leading or trailing `/`; `''` for the bucket's root. */
  prefix: string;
  /** `http(s)://host[:port][/path]` without a trailing `/`; null: AWS S3 itself. */
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  push: RemotePush;
  /** Remote retention; null keeps every pushed snapshot. */
  keep: RemoteKeep | null;
  /** A cap on this run's upload rate, bytes per second; null: no cap. */
  bandwidthBytesPerSec: number | null;
}

/**
 * Remote retention: the rules of `KeepRules` plus a count. A pushed snapshot stays while any rule
 * keeps it, with the same guarantees as local retention (the newest good backup, manual,
 * pre-restore and pinned snapshots always stay); `maxSizeBytes` then removes the oldest unprotected
 * ones. With no keep rule at all (only `max_size`), every snapshot stays until the cap.
 */
export interface RemoteKeep extends KeepRules {
  /** The newest N good backups stay (as `backup.keep` locally); null: no count rule. */
  keepLast: number | null;
}

export interface Config {
  /** Absolute path of the file this config was read from (null for the zero-config `watch`). */
  file: string | null;
  log: { level: LogLevel; file: string | null; format: LogFormat };
  /** Prometheus textfile (node_exporter textfile collector) the daemon keeps up to date; null = none. */
  metrics: { file: string | null };
  runs: RunConfig[];
}

/** Re-exported: defined beside `ConfigError`, which carries them. */
export type { ConfigProblem } from '../util/errors.js';
