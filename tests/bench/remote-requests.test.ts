/**
 * The remote push bench judges "only the changed files" and "only a manifest" from the requests
 * its proxy saw, and reads each tool's CPU time from a shell's `times`: this checks that reading.
 */
import { describe, expect, it } from 'vitest';
import { childCpuSeconds, classifyCkptd, methodCounts } from '../../bench/remote.js';
import type { SeenRequest } from '../helpers/fault-proxy.js';

const req = (method: string, url: string, bodyBytes = 0): SeenRequest => ({ method, url, contentLength: bodyBytes, headers: {}, bodyBytes, fault: null });
const blob = '/bkt/ckptd/blobs/sha256/ab/ab12';

describe('classifyCkptd', () => {
  it('counts blob bodies (whole and parts), manifests, and names any other write', () => {
    const seen = [
      req('GET', '/bkt?list-type=2&prefix=ckptd%2Fruns%2Fbench%2Fsnapshots%2F'),
      req('HEAD', blob),
      req('PUT', blob, 100),
      req('POST', `${blob}?uploads`),
      req('PUT', `${blob}?partNumber=1&uploadId=u1`, 5),
      req('PUT', `${blob}?partNumber=2&uploadId=u1`, 3),
      req('POST', `${blob}?uploadId=u1`, 200),
      req('PUT', '/bkt/ckptd/runs/bench/snapshots/20261201-120000.json', 900),
      req('PUT', '/bkt/ckptd/runs/bench/lock.json', 50),
      req('DELETE', '/bkt/ckptd/runs/bench/lock.json'),
    ];
    expect(classifyCkptd(seen)).toEqual({
      blobBytes: 108,
      blobPuts: 3,
      manifests: 1,
      otherWrites: ['PUT /bkt/ckptd/runs/bench/lock.json', 'DELETE /bkt/ckptd/runs/bench/lock.json'],
    });
  });

  it('an unchanged push: reads and one manifest, nothing else', () => {
    const c = classifyCkptd([req('HEAD', blob), req('GET', '/bkt/ckptd/runs/bench/snapshots/a.json'), req('PUT', '/bkt/ckptd/runs/bench/snapshots/b.json', 900)]);
    expect(c).toEqual({ blobBytes: 0, blobPuts: 0, manifests: 1, otherWrites: [] });
  });
});

describe('methodCounts', () => {
  it('counts requests by method, in name order', () => {
    expect(methodCounts([req('PUT', '/a'), req('HEAD', '/a'), req('PUT', '/b')])).toBe('HEAD 1, PUT 2');
    expect(methodCounts([])).toBe('');
  });
});

describe('childCpuSeconds', () => {
  it("adds the children's user and system time, the last line of `times` (dash and bash formats)", () => {
    expect(childCpuSeconds('0m0.001000s 0m0.002000s\n1m2.500000s 0m0.250000s\n')).toBeCloseTo(62.75, 6);
    expect(childCpuSeconds('some warning\n0m0.004s 0m0.000s\n0m3.120s 0m0.480s')).toBeCloseTo(3.6, 6);
  });

  it('is NaN when the shell printed no times', () => {
    expect(childCpuSeconds('')).toBeNaN();
    expect(childCpuSeconds('Fatal: no repository')).toBeNaN();
  });
});
