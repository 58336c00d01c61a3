/**
 * What every remote object-layer test needs: one test S3 server per test file, and per test a new
 * bucket, a fault proxy in front of the server, a temp folder, and `S3Objects` opened through the
 * proxy with fast, seeded retries. Everything is torn down after each test.
 */
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { openS3Objects, type S3Objects, type S3ObjectsOptions } from '../../src/store/remote/s3-objects.js';
import { parseS3Target, type S3Target } from '../../src/store/remote/s3-target.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { sha256 } from './s3-oracle.js';
import { startS3Server, type S3TestServer } from './s3-server.js';
import { seededRandom, testSeed } from './seeded.js';

export const MiB = 1024 * 1024;
/** The smallest part S3 allows; tests use it so multipart blobs stay small. */
export const PART = 5 * MiB;

export interface RemoteWorld {
  server: S3TestServer;
  bucket: string;
  proxy: FaultProxy;
  tmp: string;
  /** The target through the proxy (`prefix` given to `remoteWorld`). */
  target: S3Target;
  /** `S3Objects` through the proxy: 5 MiB parts, 5 tries 1-5 ms apart, 10 s idle timeout, plus `opts`. Closed after the test. */
  open(opts?: S3ObjectsOptions, target?: S3Target): S3Objects;
  /** A new file of `size` random bytes in `tmp`, with its sha256. */
  file(size: number, name?: string): Promise<{ path: string; sha: string; data: Buffer }>;
  /** Stores `data` at `key` straight on the server (not through the proxy or the code under test). */
  rawPut(key: string, data: Buffer): Promise<void>;
}

/** Registers the hooks and returns a getter for the current test's world. */
export function remoteWorld(prefix = 'ckptd'): () => RemoteWorld {
  let server: S3TestServer;
  let world: RemoteWorld | null = null;
  let opened: S3Objects[] = [];
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async (ctx) => {
    const bucket = await server.newBucket();
    const proxy = await startFaultProxy(server.port);
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckptd-remote-'));
    const target = parseS3Target({ url: `s3://${bucket}/${prefix}`, endpoint: proxy.endpoint, region: 'us-east-1', forcePathStyle: true });
    const random = seededRandom(testSeed(ctx.task.name));
    world = {
      server,
      bucket,
      proxy,
      tmp,
      target,
      open(opts = {}, t = target) {
        const o = openS3Objects(t, {
          partSize: PART,
          ...opts,
          retry: { attempts: 5, baseMs: 1, maxMs: 5, random, ...opts.retry },
          timeouts: { connectMs: 5_000, idleMs: 10_000, ...opts.timeouts },
        });
        opened.push(o);
        return o;
      },
      async rawPut(key, data) {
        const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
        try {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
        } finally {
          client.destroy();
        }
      },
      async file(size, name = `f-${randomBytes(4).toString('hex')}`) {
        const data = randomBytes(size);
        const p = path.join(tmp, name);
        await fsp.writeFile(p, data);
        return { path: p, sha: sha256(data), data };
      },
    };
  });
  afterEach(async () => {
    for (const o of opened) o.close();
    opened = [];
    if (world !== null) {
      await world.proxy.close();
      await fsp.rm(world.tmp, { recursive: true, force: true });
    }
    world = null;
  });
  return () => {
    if (world === null) throw new Error('remoteWorld() is only available inside a test');
    return world;
  };
}
