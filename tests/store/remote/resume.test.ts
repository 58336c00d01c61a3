/**
 * Resuming a multipart upload after the process that started it died: the caller persisted the
 * state `onState` reported; a new `S3Objects` (a restarted daemon) sends only the parts not yet
 * acknowledged, counted through the proxy. Abandoned uploads are found and aborted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/store/remote/remote-errors.js';
import { isUploadState, type UploadState } from '../../../src/store/remote/upload-state.js';
import { MiB, PART, remoteWorld } from '../../helpers/remote-world.js';
import { badBlobs } from '../../helpers/s3-oracle.js';

const world = remoteWorld();

/** What a caller does with `onState`: keep the state in a file, remove it when null. */
function persistedState(file: string): { onState: (s: UploadState | null) => void; load: () => UploadState | null } {
  return {
    onState: (s) => (s === null ? fs.rmSync(file, { force: true }) : fs.writeFileSync(file, JSON.stringify(s))),
    load: () => {
      if (!fs.existsSync(file)) return null;
      const s: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (!isUploadState(s)) throw new Error('bad state file');
      return s;
    },
  };
}

/** The part numbers of the UploadPart requests among `requests`. */
function partNumbers(requests: { method: string; url: string }[]): number[] {
  return requests.flatMap((r) => {
    const m = /[?&]partNumber=(\d+)/.exec(r.url);
    return r.method === 'PUT' && m !== null ? [Number(m[1])] : [];
  });
}

/**
 * Starts the upload of `f` in its own `S3Objects` and lets it die in part 2: the connection is cut
 * after `afterBytes` of that request (default: inside its headers), and no retries.
 */
async function dieInPartTwo(w: ReturnType<typeof world>, f: { path: string; sha: string; data: Buffer }, onState: (s: UploadState | null) => void, afterBytes = 100): Promise<void> {
  const first = w.open({ retry: { attempts: 1 } });
  w.proxy.inject({ kind: 'drop', direction: 'request', afterBytes, match: { method: 'PUT', url: /[?&]partNumber=2&/ } });
  await expect(first.putBlob(f.sha, f.data.length, f.path, { onState })).rejects.toThrow(RemoteError);
  first.close();
}

/** A new file of `size` bytes whose upload died in part 2, its state persisted in a file of its own. */
async function interruptedUpload(w: ReturnType<typeof world>, size: number, afterBytes?: number) {
  const f = await w.file(size);
  const state = persistedState(path.join(w.tmp, `upload-${f.sha.slice(0, 12)}.json`));
  await dieInPartTwo(w, f, state.onState, afterBytes);
  return { f, state, saved: state.load()! };
}

describe('resume after a restart', () => {
  it('sends only the parts that were not acknowledged', async () => {
    const w = world();
    const { f, state, saved } = await interruptedUpload(w, 2 * PART + 3 * MiB, 2 * MiB);
    expect(saved.parts.map((p) => p.number)).toEqual([1]);
    expect(await w.server.storedObjects(w.bucket)).toEqual([]);

    const before = w.proxy.requests().length;
    const upBefore = w.proxy.bytesUp();
    const restarted = w.open();
    const put = await restarted.putBlob(f.sha, f.data.length, f.path, { resume: saved, onState: state.onState });
    expect(put).toEqual({ outcome: 'uploaded', sentBytes: PART + 3 * MiB, reusedParts: 1 });
    expect(partNumbers(w.proxy.requests().slice(before))).toEqual([2, 3]);
    // Parts 2 and 3 and a few requests' headers: part 1 did not cross the wire again.
    expect(w.proxy.bytesUp() - upBefore).toBeLessThan(PART + 3 * MiB + 16 * 1024);
    expect(state.load()).toBeNull();
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await restarted.hasBlob(f.sha, f.data.length)).toBe(true);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });

  it('resends a recorded part whose bytes in the file are not the ones recorded', async () => {
    const w = world();
    const { f, saved } = await interruptedUpload(w, 2 * PART + 10);
    const tampered = { ...saved, parts: saved.parts.map((p) => ({ ...p, sha256: '0'.repeat(64) })) };
    const before = w.proxy.requests().length;
    const put = await w.open().putBlob(f.sha, f.data.length, f.path, { resume: tampered });
    expect(put.reusedParts).toBe(0);
    expect(partNumbers(w.proxy.requests().slice(before))).toEqual([1, 2, 3]);
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
  });

  it('an upload aborted meanwhile is started over once, and the new state reported', async () => {
    const w = world();
    const { f, saved } = await interruptedUpload(w, PART + 10);
    await w.open().abortUpload(saved);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);

    const states: (UploadState | null)[] = [];
    const put = await w.open().putBlob(f.sha, f.data.length, f.path, { resume: saved, onState: (s) => void states.push(s) });
    expect(put.outcome).toBe('uploaded');
    expect(states[0]?.uploadId).not.toBe(saved.uploadId);
    expect(states[states.length - 1]).toBeNull();
    expect(await badBlobs(w.server, w.bucket, 'ckptd/')).toEqual([]);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });

  it('a blob stored meanwhile (by another machine) ends the resume: the upload is aborted', async () => {
    const w = world();
    const { f, state, saved } = await interruptedUpload(w, PART + 10);
    await w.open().putBlob(f.sha, f.data.length, f.path);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([saved.uploadId]);

    const put = await w.open().putBlob(f.sha, f.data.length, f.path, { resume: saved, onState: state.onState });
    expect(put).toEqual({ outcome: 'present', sentBytes: 0, reusedParts: 0 });
    expect(state.load()).toBeNull();
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });

  it('a state for another blob is refused', async () => {
    const w = world();
    const { saved } = await interruptedUpload(w, PART + 10);
    const g = await w.file(PART + 10);
    await expect(w.open().putBlob(g.sha, g.data.length, g.path, { resume: saved })).rejects.toThrow(/is the upload of .*; pass the state reported for this blob/);
  });
});

describe('abortStaleUploads', () => {
  it('aborts the uploads started before the cutoff and keeps the younger ones', async () => {
    const w = world();
    const old = (await interruptedUpload(w, PART + 10)).saved;
    const young = (await interruptedUpload(w, PART + 20)).saved;
    const now = Date.now();
    await w.server.backdateUpload(w.bucket, old.uploadId, new Date(now - 2 * 3600_000));

    const objects = w.open({ pageSize: 1 });
    const aborted = await objects.abortStaleUploads(3600_000, now);
    expect(aborted.map((u) => [u.key, u.uploadId])).toEqual([[old.key, old.uploadId]]);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([young.uploadId]);
    expect(await objects.abortStaleUploads(3600_000, now)).toEqual([]);
    expect(await objects.abortStaleUploads(0, now + 1000)).toHaveLength(1);
    expect(await w.server.pendingUploads(w.bucket)).toEqual([]);
  });
});
