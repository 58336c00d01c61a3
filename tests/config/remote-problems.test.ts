/**
 * The `remote:` section's problems: each names its line, its key and the fix; credentials are
 * refused wherever they are written, and their values never appear in the output.
 */
import { describe, expect, it } from 'vitest';
import { problemsOf } from '../helpers/config-text.js';

const RUNS = 'runs:\n  - name: a\n    path: r\n';

/** The problems of `remote: {block}` at the top level (line 1). */
function topLevel(block: string): string[] {
  return problemsOf(`remote: ${block}\n${RUNS}`);
}

describe('remote: each invalid value names its key and the fix', () => {
  it.each<[string, string, RegExp]>([
    ['an https url', 'url: "https://s3.amazonaws.com/b"', /^1:15 remote\.url: "https:\/\/s3\.amazonaws\.com\/b" is an http\(s\) address; write s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX.*put the service's address in endpoint/],
    ['a url without scheme', 'url: my-bucket/ckptd', /remote\.url: "my-bucket\/ckptd" is not an s3:\/\/ URL \(did you mean s3:\/\/my-bucket\/ckptd\?\); write s3:\/\/BUCKET/],
    ['another scheme', 'url: "gs://my-bucket"', /remote\.url: "gs:\/\/my-bucket" is not an s3:\/\/ URL; write s3:\/\/BUCKET/],
    ['no bucket', 'url: "s3:///x"', /remote\.url: the bucket name "" is missing: write s3:\/\/BUCKET after s3:\/\//],
    ['a short bucket', 'url: s3://ab', /remote\.url: the bucket name "ab" is 2 characters long; a bucket name has 3 to 63/],
    ['a long bucket', `url: s3://${'b'.repeat(64)}`, /remote\.url: the bucket name "b{64}" is 64 characters long; a bucket name has 3 to 63 \(in "s3:/],
    ['upper case', 'url: s3://My-Bucket/x', /remote\.url: the bucket name "My-Bucket" has upper-case letters; bucket names are lower-case \(e\.g\. "my-bucket"\) \(in "s3:\/\/My-Bucket\/x"\)/],
    ['an underscore', 'url: s3://my_bucket', /remote\.url: the bucket name "my_bucket" may hold only lower-case letters, digits, "\." and "-" \(e\.g\. "my-bucket"\)/],
    ['a leading hyphen', 'url: s3://-bucket', /remote\.url: the bucket name "-bucket" must begin and end with a letter or digit \(e\.g\. "bucket"\)/],
    ['two dots', 'url: s3://a..b', /remote\.url: the bucket name "a\.\.b" must not have two dots in a row \(e\.g\. "a\.b"\)/],
    ['an IP address', 'url: s3://192.168.1.10', /remote\.url: the bucket name "192\.168\.1\.10" must not look like an IP address/],
    ['a reserved name', 'url: s3://xn--bucket', /remote\.url: the bucket name "xn--bucket" is reserved by S3/],
    ['an empty prefix part', 'url: s3://bucket/a//b', /remote\.url: "s3:\/\/bucket\/a\/\/b": the prefix "a\/\/b" has an empty, "\." or "\.\." part; write folder names between single slashes/],
    ['a .. prefix part', 'url: s3://bucket/../x', /remote\.url: .*has an empty, "\." or "\.\." part/],
    ['a query', 'url: "s3://bucket/x?versionId=1"', /remote\.url: "s3:\/\/bucket\/x\?\.\.\." has a query \(\?\) or fragment \(#\); write s3:\/\/BUCKET/],
    ['a placeholder in the url', 'url: s3://<BUCKET>/ckptd', /remote\.url: still holds the placeholder <BUCKET>; replace it with your value/],
    ['an endpoint without scheme', 'url: s3://bucket, endpoint: "127.0.0.1:9000"', /^1:38 remote\.endpoint: "127\.0\.0\.1:9000" is not an http:\/\/ or https:\/\/ URL \(did you mean http:\/\/127\.0\.0\.1:9000\?\)/],
    ['a bucket URL as endpoint', 'url: s3://bucket, endpoint: "s3://bucket"', /remote\.endpoint: "s3:\/\/bucket" is a bucket URL; the bucket goes in url, and endpoint is the service's http\(s\) address/],
    ['an ftp endpoint', 'url: s3://bucket, endpoint: "ftp://host"', /remote\.endpoint: "ftp:\/\/host" is not an http:\/\/ or https:\/\/ URL; write the service's address, e\.g\. http:\/\/127\.0\.0\.1:9000/],
    ['an endpoint placeholder', 'url: s3://bucket, endpoint: "https://<ACCOUNT_ID>.r2.cloudflarestorage.com"', /remote\.endpoint: still holds the placeholder <ACCOUNT_ID>; replace it with your value/],
    ['an endpoint query', 'url: s3://bucket, endpoint: "https://host/?x=1"', /remote\.endpoint: "https:\/\/host\/\?\.\.\." has a query \(\?\) or fragment \(#\); write only the service's address/],
    ['an empty endpoint', 'url: s3://bucket, endpoint: ""', /remote\.endpoint: "" is not an http:\/\/ or https:\/\/ URL; write the service's address/],
    ['a region with a space', 'url: s3://bucket, region: eu west', /remote\.region: "eu west" is not a region name; write e\.g\. us-east-1 \(auto for Cloudflare R2\)$/],
    ['an address as region', 'url: s3://bucket, region: "https://s3.eu.example.com"', /remote\.region: .* is not a region name.*; the service's address goes in endpoint/],
    ['an unknown push', 'url: s3://bucket, push: sometimes', /remote\.push: must be one of backups, all, none, not "sometimes"/],
    ['force_path_style not a boolean', 'url: s3://bucket, force_path_style: "yes"', /remote\.force_path_style: must be true or false, not "yes"/],
    ['bandwidth without /s', 'url: s3://bucket, bandwidth: 50MB', /remote\.bandwidth: "50MB" is not a rate; write a size per second, e\.g\. 50MB\/s/],
    ['bandwidth as a bare number', 'url: s3://bucket, bandwidth: 50', /remote\.bandwidth: 50 is not a rate; write a size per second/],
    ['bandwidth of nothing', 'url: s3://bucket, bandwidth: 0MB/s', /remote\.bandwidth: "0MB\/s" is too slow; a rate must be at least 1B\/s/],
    ['an empty keep', 'url: s3://bucket, keep: {}', /remote\.keep: names no rule; give keep \(the newest N\), keep_best.*or write keep: null to keep every pushed snapshot/],
    ['keep count 0', 'url: s3://bucket, keep: {keep: 0}', /remote\.keep\.keep: must be at least 1, not 0/],
    ['a bad keep size', 'url: s3://bucket, keep: {max_size: lots}', /remote\.keep\.max_size: "lots" is not a size/],
    ['a typo in keep', 'url: s3://bucket, keep: {keep_dayly: 7}', /remote\.keep\.keep_dayly: unknown key "keep_dayly" \(did you mean "keep_daily"\?\)/],
    ['min_free in keep (local disk only)', 'url: s3://bucket, keep: {keep: 3, min_free: 1GB}', /remote\.keep\.min_free: unknown key "min_free" \(known keys: keep_best, keep_hourly, keep_daily, keep_weekly, max_size, min_age, keep\)/],
    ['a typo in remote', 'url: s3://bucket, bandwith: 5MB/s', /^1:28 remote\.bandwith: unknown key "bandwith" \(did you mean "bandwidth"\?\)/],
    ['a top-level remote without url', 'push: all', /^1:9 remote: needs url: the bucket \(and folder\) to push to, as s3:\/\/BUCKET or s3:\/\/BUCKET\/PREFIX; a top-level remote applies to every run/],
  ])('%s', (_what, block, expected) => {
    const got = topLevel(`{${block}}`);
    expect(got.some((p) => expected.test(p)), got.join('\n')).toBe(true);
  });

  it('an empty keep is the only problem when max_size is bad (no "names no rule" on top)', () => {
    expect(topLevel('{url: s3://bucket, keep: {max_size: lots}}')).toHaveLength(1);
  });

  it("a run's block that names no url, with no top-level url to inherit", () => {
    const got = problemsOf('runs:\n  - name: a\n    path: r\n    remote: {push: all}\n');
    expect(got).toEqual([
      '4:13 runs.0.remote: needs url: the bucket (and folder) to push to, as s3://BUCKET or s3://BUCKET/PREFIX; give it here or in a top-level remote (or write remote: null for no remote)',
    ]);
  });

  it("a typo in a run's block gets did-you-mean, located in the run", () => {
    expect(problemsOf('runs:\n  - name: a\n    path: r\n    remote: {url: s3://bucket, regoin: eu-west-1}\n')).toEqual([
      '4:32 runs.0.remote.regoin: unknown key "regoin" (did you mean "region"?)',
    ]);
  });

  it('a bad top-level value is reported once, not again for every run inheriting it', () => {
    const got = problemsOf('remote: {url: s3://Bad_Bucket}\nruns:\n  - name: a\n    path: ra\n  - name: b\n    path: rb\n');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^1:15 remote\.url: the bucket name "Bad_Bucket"/);
  });

  it('refuses remotes nested in one bucket, naming both and the fix', () => {
    const got = problemsOf('remote: {url: s3://shared/ckptd}\nruns:\n  - name: a\n    path: ra\n  - name: b\n    path: rb\n    remote: {url: s3://shared/ckptd/b}\n');
    expect(got).toEqual([
      '7:19 runs.1.remote.url: this run\'s remote s3://shared/ckptd/b and the remote s3://shared/ckptd of runs.0 ("a") are nested in one bucket, so one remote\'s objects would sit among the other\'s. Use the same url for both (runs are kept apart by name) or prefixes side by side, e.g. s3://shared/one and s3://shared/two',
    ]);
    // The bucket root holds every prefix; another endpoint is another service.
    expect(problemsOf('runs:\n  - name: a\n    path: ra\n    remote: {url: s3://shared}\n  - name: b\n    path: rb\n    remote: {url: s3://shared/x}\n')).toHaveLength(1);
    expect(() => problemsOf('runs:\n  - name: a\n    path: ra\n    remote: {url: s3://shared}\n  - name: b\n    path: rb\n    remote: {url: s3://shared/x, endpoint: "http://minio:9000"}\n')).toThrow(/the config loaded/);
  });
});

describe('remote: credentials are never read from the config', () => {
  const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
  const CHAIN = /looks like a credential, and credentials never go in the config: ckptd takes them only from the AWS SDK default chain, that is the environment \(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN\), AWS_PROFILE with ~\/\.aws\/credentials, or the instance role\. Remove the key and its value from this file/;

  it.each([
    'access_key',
    'secret',
    'aws_access_key_id',
    'aws_secret_access_key',
    'secret_access_key',
    'session_token',
    'credentials',
    'accessKeyId',
    'secret-key',
    'password',
    'api_key',
    'profile',
    'aws_profile',
    'key',
  ])('%s in a top-level remote', (key) => {
    const got = problemsOf(`remote:\n  url: s3://bucket\n  ${key}: ${SECRET}\n${RUNS}`);
    expect(got).toHaveLength(1);
    expect(got[0]!.startsWith(`3:3 remote.${key}: "${key}" `)).toBe(true);
    expect(got[0]).toMatch(CHAIN);
    expect(got[0]).not.toContain(SECRET);
  });

  it("in a run's remote, at the top of the file and beside another problem: each refused, the value never shown", () => {
    const got = problemsOf(`aws_secret_access_key: ${SECRET}\nruns:\n  - name: a\n    path: r\n    remote:\n      url: s3://bucket\n      region: eu west\n      session_token: ${SECRET}\n`);
    expect(got.map((p) => p.split(': ')[0])).toEqual(['1:1 aws_secret_access_key', '7:15 runs.0.remote.region', '8:7 runs.0.remote.session_token']);
    expect(got[0]).toMatch(CHAIN);
    expect(got[2]).toMatch(CHAIN);
    expect(got.join('\n')).not.toContain(SECRET);
  });

  it.each([
    ['url', `url: "s3://AKIAEXAMPLE:${SECRET}@bucket/x"`],
    ['url', `url: "AKIAEXAMPLE:${SECRET}@bucket/x"`],
    ['endpoint', `url: s3://bucket, endpoint: "https://AKIAEXAMPLE:${SECRET}@minio:9000"`],
    ['endpoint', `url: s3://bucket, endpoint: "AKIAEXAMPLE:${SECRET}@minio:9000"`],
  ])('credentials inside the %s value are refused without repeating it', (key, block) => {
    const got = topLevel(`{${block}}`);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(new RegExp(`^1:\\d+ remote\\.${key}: must not hold credentials \\(user:secret@\\); ckptd takes them only from the AWS SDK default chain.*AWS_PROFILE`));
    expect(got[0]).not.toContain(SECRET);
    expect(got[0]).not.toContain('AKIAEXAMPLE');
  });
});
