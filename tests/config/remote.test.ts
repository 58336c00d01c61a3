/**
 * The `remote:` section (SPEC section 8): what each valid form normalizes to, and which remote each
 * run gets (top level → run, key by key; a run's own url brings its own connection keys; opt-out).
 */
import { describe, expect, it } from 'vitest';
import type { RemoteConfig } from '../../src/config/types.js';
import { loadText } from '../helpers/config-text.js';

const RUNS = 'runs:\n  - name: a\n    path: r\n';

/** The remote `remote: {block}` at the top level gives the one run. */
function topLevel(block: string): RemoteConfig | null {
  return loadText(`remote: ${block}\n${RUNS}`).runs[0]!.remote;
}

const DEFAULTS: RemoteConfig = {
  url: 's3://my-bucket/ckptd',
  bucket: 'my-bucket',
  prefix: 'ckptd',
  endpoint: null,
  region: 'us-east-1',
  forcePathStyle: false,
  push: 'backups',
  keep: null,
  bandwidthBytesPerSec: null,
};

const KEEP_NONE = { keepLast: null, keepBest: null, keepHourly: 0, keepDaily: 0, keepWeekly: 0, maxSizeBytes: null, minAgeMs: 3_600_000 };

describe('remote: valid forms', () => {
  it.each<[string, string, Partial<RemoteConfig>]>([
    ['only a url: every default', '{url: s3://my-bucket/ckptd}', {}],
    ['the bucket root', '{url: s3://my-bucket}', { url: 's3://my-bucket', prefix: '' }],
    ['a deep prefix, canonical (scheme case, trailing slash)', '{url: S3://my.bucket-1/a/b/}', { url: 's3://my.bucket-1/a/b', bucket: 'my.bucket-1', prefix: 'a/b' }],
    [
      'MinIO: http endpoint, path style',
      '{url: s3://my-bucket/ckptd, endpoint: "http://127.0.0.1:9000/", force_path_style: true}',
      { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true },
    ],
    [
      'Cloudflare R2: region auto',
      '{url: s3://my-bucket/ckptd, endpoint: "https://0123abcd.r2.cloudflarestorage.com", region: auto}',
      { endpoint: 'https://0123abcd.r2.cloudflarestorage.com', region: 'auto' },
    ],
    [
      'Backblaze B2',
      '{url: s3://my-bucket/ckptd, endpoint: "https://s3.us-west-004.backblazeb2.com", region: us-west-004}',
      { endpoint: 'https://s3.us-west-004.backblazeb2.com', region: 'us-west-004' },
    ],
    ['an endpoint with a path, host lower-cased', '{url: s3://my-bucket/ckptd, endpoint: "https://Storage.Example.com/s3/"}', { endpoint: 'https://storage.example.com/s3' }],
    ['explicit nulls are the defaults', '{url: s3://my-bucket/ckptd, endpoint: null, keep: null, bandwidth: null}', {}],
    ['push all', '{url: s3://my-bucket/ckptd, push: all}', { push: 'all' }],
    ['push none', '{url: s3://my-bucket/ckptd, push: none}', { push: 'none' }],
    ['bandwidth in decimal units', '{url: s3://my-bucket/ckptd, bandwidth: 50MB/s}', { bandwidthBytesPerSec: 50e6 }],
    ['bandwidth in binary units', '{url: s3://my-bucket/ckptd, bandwidth: 10 MiB/s}', { bandwidthBytesPerSec: 10 * 2 ** 20 }],
    ['keep: a count and days', '{url: s3://my-bucket/ckptd, keep: {keep: 10, keep_daily: 7}}', { keep: { ...KEEP_NONE, keepLast: 10, keepDaily: 7 } }],
    [
      'keep: every retention rule key',
      '{url: s3://my-bucket/ckptd, keep: {keep_best: {metric: loss}, keep_hourly: 24, keep_weekly: 8, max_size: 500GB, min_age: 2h}}',
      { keep: { ...KEEP_NONE, keepBest: { metric: 'loss', mode: 'min', count: 1 }, keepHourly: 24, keepWeekly: 8, maxSizeBytes: 500e9, minAgeMs: 7_200_000 } },
    ],
    ['keep: only a size cap', '{url: s3://my-bucket/ckptd, keep: {max_size: 1TiB, min_age: null}}', { keep: { ...KEEP_NONE, maxSizeBytes: 2 ** 40, minAgeMs: 0 } }],
  ])('%s', (_what, block, expected) => {
    expect(topLevel(block)).toEqual({ ...DEFAULTS, ...expected });
  });

  it('reads a run\'s own block the same way as a top-level one', () => {
    const block = '{url: s3://my-bucket/ckptd, endpoint: "http://127.0.0.1:9000", force_path_style: true, push: all, keep: {keep: 3}, bandwidth: 1MB/s}';
    expect(loadText(`runs:\n  - name: a\n    path: r\n    remote: ${block}\n`).runs[0]!.remote).toEqual(topLevel(block));
  });
});

describe('remote: which remote each run gets', () => {
  const TOP = `remote:
  url: s3://shared/ckptd
  endpoint: http://127.0.0.1:9000
  region: eu-central-1
  force_path_style: true
  push: backups
  keep: {keep: 5, keep_daily: 7}
  bandwidth: 5MB/s
`;
  const SHARED: RemoteConfig = {
    url: 's3://shared/ckptd',
    bucket: 'shared',
    prefix: 'ckptd',
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-central-1',
    forcePathStyle: true,
    push: 'backups',
    keep: { ...KEEP_NONE, keepLast: 5, keepDaily: 7 },
    bandwidthBytesPerSec: 5e6,
  };

  /** The remote of run `b` when it says `remote` (a YAML value, or nothing), beside run `a` that says nothing. */
  function runB(remote: string | null, top = TOP): { a: RemoteConfig | null; b: RemoteConfig | null } {
    const own = remote === null ? '' : `    remote: ${remote}\n`;
    const runs = loadText(`${top}runs:\n  - name: a\n    path: ra\n  - name: b\n    path: rb\n${own}`).runs;
    return { a: runs[0]!.remote, b: runs[1]!.remote };
  }

  it('no remote anywhere: none', () => {
    expect(runB(null, '')).toEqual({ a: null, b: null });
  });

  it('a top-level remote: null is no remote', () => {
    expect(runB(null, 'remote: null\n')).toEqual({ a: null, b: null });
  });

  it('the top-level remote applies to every run that says nothing (one url: runs are kept apart by name)', () => {
    expect(runB(null)).toEqual({ a: SHARED, b: SHARED });
  });

  it("a run's keys override the top level's key by key", () => {
    expect(runB('{push: all, bandwidth: 1MB/s}')).toEqual({ a: SHARED, b: { ...SHARED, push: 'all', bandwidthBytesPerSec: 1e6 } });
  });

  it("a run's keep replaces the top-level keep whole (one level deep)", () => {
    expect(runB('{keep: {keep_weekly: 4}}').b).toEqual({ ...SHARED, keep: { ...KEEP_NONE, keepWeekly: 4 } });
    expect(runB('{keep: null}').b).toEqual({ ...SHARED, keep: null });
  });

  it("a run's own url brings its own endpoint, region and path style (defaults), and inherits the rest", () => {
    expect(runB('{url: s3://other-bucket/b}').b).toEqual({
      ...SHARED,
      url: 's3://other-bucket/b',
      bucket: 'other-bucket',
      prefix: 'b',
      endpoint: null,
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(runB('{url: s3://other-bucket/b, endpoint: "https://s3.us-west-004.backblazeb2.com", region: us-west-004}').b).toMatchObject({
      endpoint: 'https://s3.us-west-004.backblazeb2.com',
      region: 'us-west-004',
      forcePathStyle: false,
    });
  });

  it('remote: null in a run opts it out entirely; the other runs keep the top-level remote', () => {
    expect(runB('null')).toEqual({ a: SHARED, b: null });
  });

  it('push: none in a run keeps the remote known (to list, pull and restore from) but pushes nothing', () => {
    expect(runB('{push: none}')).toEqual({ a: SHARED, b: { ...SHARED, push: 'none' } });
  });

  it('a run block with a url and no top level: only that run has a remote', () => {
    expect(runB('{url: s3://my-bucket/ckptd}', '')).toEqual({ a: null, b: DEFAULTS });
  });

  it('runs in one bucket with prefixes side by side load', () => {
    const { a, b } = runB('{url: s3://shared/ckptd-b}');
    expect([a?.prefix, b?.prefix]).toEqual(['ckptd', 'ckptd-b']);
  });
});
