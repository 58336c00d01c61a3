/**
 * The shape of the YAML (SPEC section 3) as a zod schema: which keys exist, their types and enums.
 * Values with their own grammar (durations, sizes, `every`, `progress`, globs, cron) are checked
 * by `normalize.ts` and the modules it coordinates, which know how to say what is wrong with them.
 */
import { z } from 'zod';

const text = z.string();
const nullableText = z.string().nullable();
const globs = z.array(z.string());
const scalar = z.union([z.string(), z.number()]);

export const keepBestSchema = z.strictObject({
  metric: text,
  mode: z.enum(['min', 'max']).optional(),
  count: z.number().int().min(1).optional(),
});

export const backupSchema = z.strictObject({
  every: z.union([z.string(), z.number(), z.null(), z.boolean()]).optional(),
  cron: nullableText.optional(),
  rolling: z.boolean().optional(),
  keep: z.number().int().min(1).optional(),
  before_save: z.boolean().optional(),
  delete_on_finish: z.boolean().optional(),
});

export const saveSchema = z.strictObject({
  every: z.union([z.string(), z.number(), z.null(), z.boolean()]).optional(),
  cron: nullableText.optional(),
  files: globs.optional(),
  prefix: z.string().optional(),
  to: nullableText.optional(),
  keep: z.number().int().min(1).nullable().optional(),
  pick: z.enum(['auto', 'newest', 'all']).optional(),
});

const count = z.number().int().min(0);

export const retentionSchema = z.strictObject({
  keep_best: keepBestSchema.nullable().optional(),
  keep_hourly: count.nullable().optional(),
  keep_daily: count.nullable().optional(),
  keep_weekly: count.nullable().optional(),
  max_size: scalar.nullable().optional(),
  min_free: scalar.nullable().optional(),
  min_age: scalar.nullable().optional(),
});

/** `remote.keep`: the rule keys of `retention` (but `min_free`: no disk to keep free) and a count as `backup.keep`. */
export const remoteKeepSchema = retentionSchema.omit({ min_free: true }).extend({
  keep: z.number().int().min(1).nullable().optional(),
});

/** A `remote:` block, top level or in a run; every key optional here (a run's block may inherit). */
export const remoteSchema = z.strictObject({
  url: text.optional(),
  endpoint: nullableText.optional(),
  region: text.optional(),
  force_path_style: z.boolean().optional(),
  push: z.enum(['backups', 'all', 'none']).optional(),
  keep: remoteKeepSchema.nullable().optional(),
  bandwidth: scalar.nullable().optional(),
});

export const runSchema = z.strictObject({
  name: text,
  path: text,
  store: nullableText.optional(),
  include: globs.optional(),
  exclude: globs.optional(),
  settle: scalar.optional(),
  watch: z.enum(['auto', 'poll']).optional(),
  priority: z.enum(['low', 'normal']).optional(),
  /** A preset name or an object; checked in normalize (a union's errors would be unreadable). */
  progress: z.unknown().optional(),
  model_type: nullableText.optional(),
  backup: backupSchema.nullable().optional(),
  save: saveSchema.nullable().optional(),
  retention: retentionSchema.nullable().optional(),
  remote: remoteSchema.nullable().optional(),
});

export const logSchema = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  file: nullableText.optional(),
  format: z.enum(['text', 'json']).optional(),
});

export const metricsSchema = z.strictObject({
  file: nullableText.optional(),
});

export const configSchema = z.strictObject({
  log: logSchema.nullable().optional(),
  metrics: metricsSchema.nullable().optional(),
  remote: remoteSchema.nullable().optional(),
  runs: z.array(runSchema).min(1),
});

/** What the YAML says, after its shape has been checked. */
export type RawConfig = z.infer<typeof configSchema>;
export type RawRun = z.infer<typeof runSchema>;
export type RawRemote = z.infer<typeof remoteSchema>;

/** The known keys of the object at a key path, for "did you mean" suggestions. */
export function knownKeysAt(keyPath: readonly (string | number)[]): string[] {
  const names = keyPath.filter((s): s is string => typeof s === 'string');
  const last = names[names.length - 1];
  const shapes: Record<string, z.ZodObject> = {
    log: logSchema,
    metrics: metricsSchema,
    backup: backupSchema,
    save: saveSchema,
    retention: retentionSchema,
    keep_best: keepBestSchema,
    remote: remoteSchema,
    /** Only `remote.keep` is a mapping; `backup.keep` and `save.keep` are numbers. */
    keep: remoteKeepSchema,
  };
  if (keyPath.length === 0) return Object.keys(configSchema.shape);
  if (last === 'runs' && typeof keyPath[keyPath.length - 1] === 'number') return Object.keys(runSchema.shape);
  const shape = last === undefined ? undefined : shapes[last];
  return shape ? Object.keys(shape.shape) : [];
}
