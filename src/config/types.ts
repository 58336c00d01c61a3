/**
 * The two config types: `RawConfig` is what the YAML says (optional keys, strings like "30m");
 * `Config` is the normalized form every other module uses (every key present, ms, bytes,
 * absolute paths, parsed policies).
 */
import type { Every } from '../policy/types.js';

/** Re-exported: defined by the logger they configure. */
export type { LogFormat, LogLevel } from '../util/logger.js';
import type { LogFormat, LogLevel } from '../util/logger.js';

/** Where progress (epoch/step/loss) is read from. */
export type ProgressSpec =
  | { kind: 'none' }
  | { kind: 'auto' }
  | { kind: 'preset'; preset: 'hf' | 'lightning' | 'keras' | 'onetrainer' | 'kohya' }
  /** A JSON or YAML file (relative to the run folder) with key paths such as `log_history[-1].loss`. */
  | { kind: 'file'; file: string; epoch: string | null; step: string | null; loss: string | null }
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
  settleMs: number;
  /** `auto`: inotify, falling back to polling when the watch limit is hit; `poll`: always poll (network file systems). */
  watch: 'auto' | 'poll';
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
  };
  retention: {
    keepBest: KeepBest | null;
    /** Newest good backup of each of the last N hours/days/weeks (0 = off). */
    keepHourly: number;
    keepDaily: number;
    keepWeekly: number;
    maxSizeBytes: number | null;
    minFreeBytes: number;
    /** A backup younger than this is never removed by max_size or min_free alone. */
    minAgeMs: number;
  };
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
