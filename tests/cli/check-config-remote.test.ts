/** `ckptd check-config` shows each run's remote (or none) when a config has one, and refuses a bad one with its line. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/cli/check-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function check(text: string): { exitCode: number; lines: string[]; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-check-'));
  dirs.push(dir);
  const file = path.join(dir, 'ckptd.yaml');
  fs.writeFileSync(file, text);
  const r = checkConfig(file);
  return { exitCode: r.exitCode, lines: r.output.split('\n').map((l) => l.replaceAll(dir, 'D')), dir };
}

describe('check-config with a remote', () => {
  it('prints no remote line when no run has a remote', () => {
    expect(check('runs:\n  - name: a\n    path: r\n').lines).toEqual(['D/ckptd.yaml: ok (1 run)', '  a: D/r -> store D/.ckptd/a; backup every 30 minutes, save never']);
  });

  it("prints each run's remote: endpoint, path style, push, keep and bandwidth; none for a run that opts out", () => {
    const r = check(`remote:
  url: s3://ckpt/team
  endpoint: http://127.0.0.1:9000
  force_path_style: true
  keep: {keep: 10, keep_daily: 7, keep_best: {metric: loss, count: 2}, max_size: 500GB}
  bandwidth: 50MB/s
runs:
  - name: a
    path: ra
  - name: b
    path: rb
    remote: {url: s3://other-bucket, region: auto, push: none}
  - name: c
    path: rc
    remote: null
`);
    expect(r.exitCode).toBe(0);
    expect(r.lines.filter((l) => l.startsWith('    '))).toEqual([
      '    remote s3://ckpt/team at http://127.0.0.1:9000 (region us-east-1, path style): push backups, keep the newest 10, the best 2 by loss (min), 7 daily within 500.0 GB (min age 1 hour), bandwidth 50.0 MB/s',
      '    remote s3://other-bucket (region auto): push none (only read: list, pull, restore), keep the newest 10, the best 2 by loss (min), 7 daily within 500.0 GB (min age 1 hour), bandwidth 50.0 MB/s',
      '    remote: none',
    ]);
  });

  it('prints keep all pushed, and a size cap alone as all within the cap', () => {
    const all = check('remote: {url: s3://ckpt}\nruns:\n  - name: a\n    path: r\n').lines[2];
    expect(all).toBe('    remote s3://ckpt (region us-east-1): push backups, keep all pushed');
    const capped = check('remote: {url: s3://ckpt, push: all, keep: {max_size: 1TB, min_age: null}}\nruns:\n  - name: a\n    path: r\n').lines[2];
    expect(capped).toBe('    remote s3://ckpt (region us-east-1): push all, keep all within 1.00 TB');
  });

  it('refuses a bad remote with exit 2, its line, key and fix, and never prints a credential', () => {
    const r = check('remote:\n  url: s3://My_Bucket\n  secret_access_key: hunter2-hunter2\nruns:\n  - name: a\n    path: r\n');
    expect(r.exitCode).toBe(2);
    expect(r.lines).toEqual([
      'D/ckptd.yaml:2:8 remote.url: the bucket name "My_Bucket" has upper-case letters; bucket names are lower-case (e.g. "my-bucket") (in "s3://My_Bucket")',
      expect.stringMatching(/^D\/ckptd\.yaml:3:3 remote\.secret_access_key: "secret_access_key" looks like a credential.*AWS_PROFILE/),
    ]);
    expect(r.lines.join('\n')).not.toContain('hunter2');
  });
});
