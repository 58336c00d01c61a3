/**
 * Blobs are shared by every run under a remote prefix, so a garbage collection after one run's
 * remote retention must never take a blob another run's push, in the same daemon, is about to name.
 * A push that finds a blob already stored does not send it; if that blob is unreferenced and old,
 * a collection that listed the manifests before the push wrote its own deletes it, and the pushed
 * snapshot names a blob that is gone. (The push checks its reused blobs again once its manifest
 * is written, but a collection can delete after that check.) Against a real S3 API server.
 */
import fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

/** An action run once just before the next `pushQueued`, wherever it is called from. */
const beforePush: { action: (() => Promise<void>) | null } = { action: null };
vi.mock('../../src/ops/push.js', async (original) => {
  const real = await original<typeof import('../../src/ops/push.js')>();
  return {
    ...real,
    pushQueued: async (...args: Parameters<typeof real.pushQueued>) => {
      const action = beforePush.action;
      beforePush.action = null;
      if (action !== null) await action();
      return real.pushQueued(...args);
    },
  };
});

import type { RemoteKeep } from '../../src/config/types.js';
import { executeOp } from '../../src/ops/execute.js';
import { pushQueued } from '../../src/ops/push.js';
import { applyRemoteRetention, REMOTE_GC_GRACE_MS } from '../../src/ops/remote-retention.js';
import type { S3Objects } from '../../src/store/remote/s3-objects.js';
import type { Logger } from '../../src/util/logger.js';
import { pushingRun as pushing, queuedBackup, remoteOf } from '../helpers/pushing-run.js';
import { remoteWorld, type RemoteWorld } from '../helpers/remote-world.js';
import { sha256 } from '../helpers/s3-oracle.js';

/** remote.keep: {keep: 1}. */
const KEEP_ONE: RemoteKeep = { keepLast: 1, keepBest: null, keepHourly: 0, keepDaily: 0, keepWeekly: 0, maxSizeBytes: null, minAgeMs: 0 };
const pushingRun = (w: RemoteWorld, name: string) => pushing(w, name, KEEP_ONE);

const world = remoteWorld();

interface Logged {
  level: string;
  message: string;
  event?: unknown;
}

function logger(into: Logged[]): Logger {
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void into.push({ level, message, event: fields?.event });
  const l: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => l };
  return l;
}

/** A gate a wrapped call waits at: `reached` resolves when the first call arrives, `open()` lets it (and later ones) through. */
function gate(): { reached: Promise<void>; wait: () => Promise<void>; open: () => void } {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const opened = new Promise<void>((r) => (release = r));
  return { reached, wait: () => (arrived(), opened), open: () => release() };
}

/** `objects` with `hold` awaited before each call of `method` whose key `when` accepts. */
function holding(objects: S3Objects, method: 'putJson' | 'deleteKey', when: (key: string) => boolean, hold: () => Promise<void>): S3Objects {
  return new Proxy(objects, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== method || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return async (key: string, ...rest: unknown[]) => {
        if (when(key)) await hold();
        return (v as (...a: unknown[]) => unknown).call(target, key, ...rest);
      };
    },
  });
}




/** This test's world, a log, and two runs `a` and `b` pushing to its remote with remote.keep 1. */
async function twoRuns(): Promise<{ w: RemoteWorld; log: Logged[]; ctx: { logger: Logger; now: () => number }; a: Awaited<ReturnType<typeof pushingRun>>; b: Awaited<ReturnType<typeof pushingRun>> }> {
  const w = world();
  const log: Logged[] = [];
  return { w, log, ctx: { logger: logger(log), now: Date.now }, a: await pushingRun(w, 'a'), b: await pushingRun(w, 'b') };
}

describe('a garbage collection beside a push of another run to the same remote', () => {
  it('never takes a blob the push found already stored and is about to name', async () => {
    const { w, log, ctx, a, b } = await twoRuns();
    const shared = 'the same bytes in both runs (a base model, say)';

    // Run b pushes the shared bytes, then a state without them; its retention leaves them unreferenced.
    const rb = remoteOf(w, b);
    await queuedBackup(b, { 'base.bin': shared, 'state.json': 'b 1' });
    expect((await pushQueued(b, rb, ctx)).pushed).toHaveLength(1);
    await queuedBackup(b, { 'state.json': 'b 2' });
    expect((await pushQueued(b, rb, ctx)).pushed).toHaveLength(1);
    expect((await applyRemoteRetention(b, rb, Date.now(), ctx.logger)).deleted).toHaveLength(1);

    // Run a pushes a state holding the same bytes: the blob is found stored and not sent again.
    // Its manifest waits at a gate, so the collection below runs while the push is under way.
    const manifest = gate();
    const ra = remoteOf(w, a, holding(w.open(), 'putJson', (key) => key.includes('/runs/a/snapshots/'), manifest.wait));
    const taken = await queuedBackup(a, { 'base.bin': shared, 'state.json': 'a 1' });
    const pushing = pushQueued(a, ra, ctx);
    await manifest.reached;

    // Meanwhile run b's retention deletes again, two days later (so every unreferenced blob is
    // past the grace), and collects; its blob deletions wait at a gate of their own.
    const deletion = gate();
    const rbHeld = remoteOf(w, b, holding(w.open(), 'deleteKey', (key) => key.includes('/blobs/'), deletion.wait));
    await queuedBackup(b, { 'state.json': 'b 3' });
    expect((await pushQueued(b, rbHeld, ctx)).pushed).toHaveLength(1);
    const later = Date.now() + 2 * REMOTE_GC_GRACE_MS;
    const retention = applyRemoteRetention(b, rbHeld, later, ctx.logger);
    // Either the collection reached its deletions (it listed the manifests before a's), or it
    // finished without any (it left the collection for later).
    await Promise.race([deletion.reached, retention]);
    manifest.open();
    expect((await pushing).pushed.map((p) => p.id)).toEqual([taken.id]);
    deletion.open();
    expect((await retention).deleted).toHaveLength(1);

    // Every blob a's snapshot names is on the remote.
    const onRemote = await remoteOf(w, a).resolve(taken.id);
    const check = await remoteOf(w, a).verifyExists(onRemote);
    expect({ missing: check.missing, changed: check.changed }).toEqual({ missing: [], changed: [] });
    expect(log.filter((l) => l.event === 'remote-gc-deferred').length).toBe(1);

    // With no push under way, the next retention collects what was left, even with nothing to
    // delete, and takes only what no manifest names.
    const collected = await applyRemoteRetention(b, rb, later, ctx.logger);
    expect(collected.deleted).toEqual([]);
    expect(collected.collected).toBeGreaterThan(0);
    const again = await remoteOf(w, a).verifyExists(onRemote);
    expect({ missing: again.missing, changed: again.changed }).toEqual({ missing: [], changed: [] });
  });
  it('a push asked for (`ckptd push`) does not count on a listing a deletion made stale before its turn', async () => {
    const w = world();
    const log: Logged[] = [];
    const ctx = { logger: logger(log), now: Date.now };
    const a = await pushingRun(w, 'a');
    const base = 'bytes only the first backup held';
    const ra = remoteOf(w, a);
    await queuedBackup(a, { 'base.bin': base, 'state.json': 'a 1' });
    await queuedBackup(a, { 'state.json': 'a 2' });
    expect((await pushQueued(a, ra, ctx)).pushed).toHaveLength(2);

    // `ckptd push` lists the remote (both backups there), then, before its push takes its turn, the
    // daemon's retention of the run deletes the first backup and collects (two days later: past the
    // grace) the bytes only it named. The new backup holds those bytes again.
    const taken = await queuedBackup(a, { 'base.bin': base, 'state.json': 'a 3' });
    beforePush.action = async () => {
      expect((await applyRemoteRetention(a, ra, Date.now() + 2 * REMOTE_GC_GRACE_MS, ctx.logger)).collected).toBeGreaterThan(0);
    };
    const outcome = await executeOp(a, { kind: 'push', ids: [] }, { logger: ctx.logger, now: Date.now() });
    expect(beforePush.action, 'the deletion ran').toBeNull();
    expect((outcome.data as { pushed: { id: string }[] }).pushed.map((p) => p.id)).toEqual([taken.id]);

    const check = await remoteOf(w, a).verifyExists(await remoteOf(w, a).resolve(taken.id));
    expect({ missing: check.missing, changed: check.changed }).toEqual({ missing: [], changed: [] });
  });
});

describe("another machine's garbage collection beside a push", () => {
  it('never takes an old unreferenced blob the push found already stored and named', async () => {
    const { w, ctx, a, b } = await twoRuns();

    // Run b pushes three files, then a state without them: its retention leaves them unreferenced,
    // and two days go by (the stored objects are made two days old).
    const gone = ['bytes b no longer holds, 1', 'bytes b no longer holds, 2', 'bytes b no longer holds, 3'];
    const rb = remoteOf(w, b);
    await queuedBackup(b, { 'one.bin': gone[0]!, 'two.bin': gone[1]!, 'three.bin': gone[2]! });
    expect((await pushQueued(b, rb, ctx)).pushed).toHaveLength(1);
    await queuedBackup(b, { 'state.json': 'b 2' });
    expect((await pushQueued(b, rb, ctx)).pushed).toHaveLength(1);
    expect((await applyRemoteRetention(b, rb, Date.now(), ctx.logger)).deleted).toHaveLength(1);
    const twoDaysAgo = new Date(Date.now() - 2 * REMOTE_GC_GRACE_MS);
    for (const o of await w.server.storedObjects(w.bucket)) if (o.key.includes('/blobs/')) fs.utimesSync(o.file, twoDaysAgo, twoDaysAgo);

    // Another machine collects (no lock between machines): it has read every manifest, and its
    // first blob deletion waits at a gate. The blob it deletes last is the one run a reuses.
    const deletion = gate();
    const elsewhere = remoteOf(w, b, holding(w.open(), 'deleteKey', (key) => key.includes('/blobs/'), deletion.wait));
    const collecting = elsewhere.collectGarbage(REMOTE_GC_GRACE_MS, Date.now());
    await deletion.reached;

    // Meanwhile run a pushes a backup holding those bytes: found stored, not sent, its manifest written.
    const reused = [...gone].sort((x, y) => (sha256(Buffer.from(x)) < sha256(Buffer.from(y)) ? 1 : -1))[0]!;
    const taken = await queuedBackup(a, { 'base.bin': reused, 'state.json': 'a 1' });
    expect((await pushQueued(a, remoteOf(w, a), ctx)).pushed.map((p) => p.id)).toEqual([taken.id]);
    deletion.open();
    await collecting;

    const ra = remoteOf(w, a);
    const check = await ra.verifyExists(await ra.resolve(taken.id));
    expect({ missing: check.missing, changed: check.changed }).toEqual({ missing: [], changed: [] });
    // What no manifest names and nobody relies on still goes.
    const keyOf = (bytes: string): string => `ckptd/blobs/sha256/${sha256(Buffer.from(bytes)).slice(0, 2)}/${sha256(Buffer.from(bytes))}`;
    const left = async (): Promise<string[]> => (await w.server.storedObjects(w.bucket)).map((o) => o.key);
    for (const bytes of gone.filter((g) => g !== reused)) expect(await left()).not.toContain(keyOf(bytes));

    // Unreferenced again, the reused bytes stay a day from when the push relied on them, then go
    // with the push's mark.
    await queuedBackup(a, { 'state.json': 'a 2' });
    expect((await pushQueued(a, ra, ctx)).pushed).toHaveLength(1);
    expect((await applyRemoteRetention(a, ra, Date.now(), ctx.logger)).deleted).toEqual([taken.id]);
    expect(await left()).toContain(keyOf(reused));
    for (const o of await w.server.storedObjects(w.bucket)) if (!o.key.includes('/runs/')) fs.utimesSync(o.file, twoDaysAgo, twoDaysAgo);
    expect((await ra.collectGarbage(REMOTE_GC_GRACE_MS, Date.now())).removed.length).toBeGreaterThan(0);
    expect((await left()).filter((k) => k === keyOf(reused) || k.startsWith('ckptd/in-use/'))).toEqual([]);
  });
});
