/**
 * The `remote:` blocks (SPEC section 8), from what the YAML says to each run's `RemoteConfig`.
 * Contract:
 * - `remoteKeys` normalizes the keys one block gives (top level or in a run) and only those, so a
 *   top-level problem is reported once, at the top-level key, not again for every run inheriting
 *   it. A bad value is reported at its key and replaced by a fallback that still counts as given.
 * - `topLevelRemote` also requires `url` there: a top-level remote applies to every run.
 * - `runRemote` lays a run's block over the top-level one by the rule `RemoteConfig` documents
 *   (key by key; a run's own `url` brings its own endpoint, region and path style) and fills in
 *   the defaults. A run block that leaves `url` to a top level that has none is reported there.
 * - `keep` reuses the local retention rules (`normalize-retention.ts`) and adds the count.
 */
import { DEFAULTS } from './defaults.js';
import { keepRules, retentionMinAgeMs } from './normalize-retention.js';
import { valueOr, type Report } from './problems.js';
import { parseEndpoint, parseRegion, parseRemoteUrl, type RemoteAddress } from './remote-address.js';
import type { RawRemote } from './schema.js';
import type { RemoteConfig, RemoteKeep } from './types.js';
import { parseRate } from './units.js';
import type { KeyPath } from './yaml-positions.js';

/** The keys one `remote:` block gives, normalized (`url` as its address); a key it leaves out is absent. */
export type RemoteKeys = Partial<Omit<RemoteConfig, keyof RemoteAddress>> & { address?: RemoteAddress };

/** The keys that describe the service a `url` lives on; they go with the url that needs them. */
const CONNECTION_KEYS = ['endpoint', 'region', 'forcePathStyle'] as const;

/** Stands in for a url that was reported, so no "needs url" follows it. */
const BAD_URL: RemoteAddress = { url: 's3://invalid', bucket: 'invalid', prefix: '' };

const URL_NEEDED = 'needs url: the bucket (and folder) to push to, as s3://BUCKET or s3://BUCKET/PREFIX';

/** Normalizes the keys `raw` gives, reporting each bad value at `at`.key. */
export function remoteKeys(raw: RawRemote, at: KeyPath, report: Report): RemoteKeys {
  const out: RemoteKeys = {};
  if (raw.url !== undefined) out.address = valueOr(parseRemoteUrl(raw.url), [...at, 'url'], report, BAD_URL);
  if (raw.endpoint !== undefined) out.endpoint = raw.endpoint === null ? null : valueOr(parseEndpoint(raw.endpoint), [...at, 'endpoint'], report, null);
  if (raw.region !== undefined) out.region = valueOr(parseRegion(raw.region), [...at, 'region'], report, DEFAULTS.remoteRegion);
  if (raw.force_path_style !== undefined) out.forcePathStyle = raw.force_path_style;
  if (raw.push !== undefined) out.push = raw.push;
  if (raw.keep !== undefined) out.keep = raw.keep === null ? null : remoteKeep(raw.keep, [...at, 'keep'], report);
  if (raw.bandwidth !== undefined) {
    out.bandwidthBytesPerSec = raw.bandwidth === null ? null : valueOr(parseRate(raw.bandwidth), [...at, 'bandwidth'], report, null);
  }
  return out;
}

/** The top-level block's keys (null when there is none), reporting a missing `url` at `remote`. */
export function topLevelRemote(raw: RawRemote | null | undefined, report: Report): RemoteKeys | null {
  if (raw === null || raw === undefined) return null;
  const keys = remoteKeys(raw, ['remote'], report);
  if (keys.address === undefined) report(['remote'], `${URL_NEEDED}; a top-level remote applies to every run`);
  return keys;
}

/**
 * Run `at`'s effective remote: `own` (its `remote:` value) over `top` (the top-level keys, null
 * when there is none). `own` null: none; left out: the top level's; a block: laid over the top level.
 */
export function runRemote(own: RawRemote | null | undefined, top: RemoteKeys | null, at: KeyPath, report: Report): RemoteConfig | null {
  if (own === null) return null;
  if (own === undefined) return top?.address === undefined ? null : withDefaults(top.address, top);
  const keys = remoteKeys(own, [...at, 'remote'], report);
  const inherited = keys.address === undefined ? (top ?? {}) : withoutConnection(top ?? {});
  const merged: RemoteKeys = { ...inherited, ...keys };
  if (merged.address === undefined) {
    report([...at, 'remote'], `${URL_NEEDED}; give it here or in a top-level remote (or write remote: null for no remote)`);
    return null;
  }
  return withDefaults(merged.address, merged);
}

function withoutConnection(keys: RemoteKeys): RemoteKeys {
  const rest = { ...keys };
  for (const k of CONNECTION_KEYS) delete rest[k];
  return rest;
}

function withDefaults(address: RemoteAddress, keys: RemoteKeys): RemoteConfig {
  return {
    ...address,
    endpoint: keys.endpoint ?? null,
    region: keys.region ?? DEFAULTS.remoteRegion,
    forcePathStyle: keys.forcePathStyle ?? false,
    push: keys.push ?? DEFAULTS.remotePush,
    keep: keys.keep ?? null,
    bandwidthBytesPerSec: keys.bandwidthBytesPerSec ?? null,
  };
}

/** `remote.keep`: the local retention rule keys and `keep` (a count); at least one rule must be given. */
function remoteKeep(raw: NonNullable<RawRemote['keep']>, at: KeyPath, report: Report): RemoteKeep {
  const rules = keepRules(raw, at, report);
  const minAgeMs = retentionMinAgeMs(raw, at, report);
  const keepLast = raw.keep ?? null;
  // From what the YAML says, so a bad max_size (already reported) does not also read as no rule.
  const given = [raw.keep, raw.keep_best, raw.max_size].some((v) => v !== null && v !== undefined);
  const periods = [raw.keep_hourly, raw.keep_daily, raw.keep_weekly].some((n) => (n ?? 0) > 0);
  if (!given && !periods) {
    report(at, 'names no rule; give keep (the newest N), keep_best, keep_hourly, keep_daily, keep_weekly or max_size, e.g. {keep: 10, keep_daily: 7}, or write keep: null to keep every pushed snapshot');
  }
  return { keepLast, ...rules, minAgeMs };
}
