import { describe, expect, it } from 'vitest';
import { diffManifests, diffWithRun } from '../../src/ops/diff.js';
import type { ManifestEntry, ScanEntry } from '../../src/store/types.js';

const m = (path: string, sha256: string, size = 10, mtime_ns = '1'): ManifestEntry => ({ path, size, sha256, mode: 0o644, mtime_ns });

describe('diffManifests', () => {
  it('lists added, removed and changed files with sizes, by path', () => {
    const a = [m('model.safetensors', 'h1', 100), m('optimizer.pt', 'o1', 200), m('checkpoint-1/state.json', 's1', 5)];
    const b = [m('model.safetensors', 'h2', 110), m('optimizer.pt', 'o1', 200), m('checkpoint-2/state.json', 's2', 6)];
    expect(diffManifests(a, b)).toEqual({
      added: [{ path: 'checkpoint-2/state.json', from: null, to: 6 }],
      removed: [{ path: 'checkpoint-1/state.json', from: 5, to: null }],
      changed: [{ path: 'model.safetensors', from: 100, to: 110 }],
      unchanged: 1,
    });
  });

  it('sees a content change of the same size through the hash', () => {
    expect(diffManifests([m('w', 'a', 10)], [m('w', 'b', 10)]).changed).toEqual([{ path: 'w', from: 10, to: 10 }]);
  });

  it('sees nothing between identical manifests', () => {
    const a = [m('x', 'h'), m('y', 'i')];
    expect(diffManifests(a, a)).toEqual({ added: [], removed: [], changed: [], unchanged: 2 });
  });
});

describe('diffWithRun', () => {
  const e = (path: string, size: number, mtimeNs: string): ScanEntry => ({ path, type: 'file', size, mtimeNs, ino: 1, mode: 0o644 });
  it('compares the live run by size and mtime', () => {
    const snap = [m('model', 'h', 10, '5000'), m('opt', 'o', 20, '5000'), m('gone', 'g', 1, '5000')];
    // model: the same to the microsecond (a restored file); opt: rewritten later.
    const live = [e('model', 10, '5400'), e('opt', 20, '9000'), e('new', 3, '9000')];
    expect(diffWithRun(snap, live)).toEqual({
      added: [{ path: 'new', from: null, to: 3 }],
      removed: [{ path: 'gone', from: 1, to: null }],
      changed: [{ path: 'opt', from: 20, to: 20 }],
      unchanged: 1,
    });
  });
});
