/** Parsing `s3://BUCKET/PREFIX` and building keys: the only place keys are made. */
import { describe, expect, it } from 'vitest';
import {
  blobKey,
  blobsPrefix,
  describeTarget,
  manifestKey,
  parseManifestKey,
  parseS3Target,
  runSnapshotsPrefix,
  S3TargetError,
  shaOfBlobKey,
} from '../../../src/store/remote/s3-target.js';

const SHA = 'ab'.padEnd(64, '0');
const ID = '20261201-120000-000-abcd';

describe('parseS3Target', () => {
  it.each([
    ['s3://bucket', 'bucket', ''],
    ['s3://bucket/', 'bucket', ''],
    ['s3://my.bucket-1/ckptd', 'my.bucket-1', 'ckptd/'],
    ['s3://bucket/team/ckptd/', 'bucket', 'team/ckptd/'],
  ])('%s -> bucket %s, prefix "%s"', (url, bucket, prefix) => {
    const t = parseS3Target({ url });
    expect(t).toEqual({ bucket, prefix, endpoint: null, region: 'us-east-1', forcePathStyle: false, bandwidth: null });
  });

  it('keeps endpoint (without a trailing slash), region, path style and bandwidth', () => {
    expect(parseS3Target({ url: 's3://b0b/x', endpoint: 'http://127.0.0.1:9000/', region: 'auto', forcePathStyle: true, bandwidth: 50_000_000 })).toEqual({
      bucket: 'b0b',
      prefix: 'x/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'auto',
      forcePathStyle: true,
      bandwidth: 50_000_000,
    });
  });

  it.each([
    ['https://bucket/x', /not an s3:\/\/ URL; write it as s3:\/\/BUCKET/],
    ['s3://', /names no bucket/],
    ['s3:///prefix', /names no bucket/],
    ['s3://Bucket', /not a valid bucket name; use 3-63 lower-case/],
    ['s3://ab', /not a valid bucket name/],
    ['s3://a..b', /not a valid bucket name/],
    ['s3://192.168.1.1', /not a valid bucket name/],
    ['s3://bucket/a//b', /empty, "\." or "\.\." folder/],
    ['s3://bucket/a/../b', /empty, "\." or "\.\." folder/],
    ['s3://bucket/x?versionId=1', /query or fragment/],
    ['s3://bucket/a\u0001b', /control character/],
  ])('refuses %j naming the fix', (url, message) => {
    expect(() => parseS3Target({ url })).toThrow(message);
    expect(() => parseS3Target({ url })).toThrow(S3TargetError);
  });

  it('refuses credentials in the URL or endpoint without echoing them', () => {
    for (const input of [{ url: 's3://AKIAEXAMPLE:s3cr3t@bucket/x' }, { url: 's3://bucket', endpoint: 'https://AKIAEXAMPLE:s3cr3t@minio.local' }]) {
      let message = '';
      try {
        parseS3Target(input);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/must not carry credentials.*AWS_ACCESS_KEY_ID/);
      expect(message).not.toContain('s3cr3t');
    }
  });

  it.each([
    [{ endpoint: 'minio:9000' }, /not http or https/],
    [{ endpoint: 'not a url' }, /is not a URL/],
    [{ endpoint: 'http://minio:9000/bucket' }, /has a path.*the bucket goes in remote.url/],
    [{ region: 'US East' }, /not a region name/],
    [{ bandwidth: 0 }, /positive number of bytes per second/],
    [{ bandwidth: 1.5 }, /positive number of bytes per second/],
  ])('refuses %j', (extra, message) => {
    expect(() => parseS3Target({ url: 's3://bucket', ...extra })).toThrow(message);
  });

  it('exits 2 (bad config)', () => {
    expect(new S3TargetError('x').exitCode).toBe(2);
  });
});

describe('keys', () => {
  const t = parseS3Target({ url: 's3://bucket/team/ckptd' });
  const bare = parseS3Target({ url: 's3://bucket' });

  it('builds the layout of SPEC section 8, with and without a prefix', () => {
    expect(blobKey(t, SHA)).toBe(`team/ckptd/blobs/sha256/ab/${SHA}`);
    expect(blobKey(bare, SHA)).toBe(`blobs/sha256/ab/${SHA}`);
    expect(blobsPrefix(t)).toBe('team/ckptd/blobs/sha256/');
    expect(manifestKey(t, 'run-a', ID)).toBe(`team/ckptd/runs/run-a/snapshots/${ID}.json`);
    expect(runSnapshotsPrefix(bare, 'run.b_c')).toBe('runs/run.b_c/snapshots/');
    expect(describeTarget(t)).toBe('s3://bucket/team/ckptd/');
  });

  it('parses back exactly the keys it builds', () => {
    expect(shaOfBlobKey(t, blobKey(t, SHA))).toBe(SHA);
    expect(shaOfBlobKey(t, blobKey(bare, SHA))).toBeNull();
    expect(shaOfBlobKey(t, `team/ckptd/blobs/sha256/cd/${SHA}`)).toBeNull();
    expect(shaOfBlobKey(t, `team/ckptd/blobs/sha256/ab/${SHA}.tmp`)).toBeNull();
    expect(parseManifestKey(t, manifestKey(t, 'run-a', ID))).toEqual({ run: 'run-a', id: ID });
    expect(parseManifestKey(t, `team/ckptd/runs/run-a/snapshots/${ID}.json.bak`)).toBeNull();
    expect(parseManifestKey(t, `team/ckptd/runs/Run/snapshots/${ID}.json`)).toBeNull();
  });

  it('refuses a malformed sha, run or id instead of building a wrong key', () => {
    expect(() => blobKey(t, 'AB'.padEnd(64, '0'))).toThrow(/not a sha256/);
    expect(() => blobKey(t, 'ab')).toThrow(/not a sha256/);
    expect(() => manifestKey(t, '..', ID)).toThrow(/not a run name/);
    expect(() => manifestKey(t, 'a/b', ID)).toThrow(/not a run name/);
    expect(() => manifestKey(t, 'run', '../x')).toThrow(/not a snapshot id/);
  });
});
