/**
 * A real S3 API server for tests: s3rver (a devDependency) in a child node on 127.0.0.1 and a free
 * port, storing under a new temp folder (see `s3-server-child.mjs` for what it does and does not
 * support). A test file starts one; each test makes its own bucket. Nothing is assumed running.
 * `npm run bench -- remote` uses it too.
 *
 * The SDK finds the server's fake credentials through the environment (`useTestCredentials`), as
 * it would find real ones: the code under test never gets credentials any other way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * The child script. Beside this file in the source tree; from the build (`dist/tests/helpers/`,
 * when `npm run bench` imports this file) the same script in the source tree.
 */
const CHILD = [import.meta.dirname, path.resolve(import.meta.dirname, '..', '..', '..', 'tests', 'helpers')]
  .map((dir) => path.join(dir, 's3-server-child.mjs'))
  .find((file) => fs.existsSync(file))!;

/** s3rver's one account. */
export const TEST_ACCESS_KEY = 'S3RVER';
export const TEST_SECRET_KEY = 'S3RVER';

/** A running test server. */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  /** The temp folder holding everything it stores. */
  dir: string;
  /** A new, empty bucket for one test. */
  newBucket(): Promise<string>;
  /** Every object of `bucket` as stored on disk: key and the file holding its bytes, in key order. */
  storedObjects(bucket: string): Promise<{ key: string; file: string }[]>;
  /** The ids of the multipart uploads in progress in `bucket`. */
  pendingUploads(bucket: string): Promise<string[]>;
  /** Makes upload `uploadId` of `bucket` look started at `when` (its Initiated time). */
  backdateUpload(bucket: string, uploadId: string, when: Date): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Sets the environment so the AWS SDK's default chain finds the test server's credentials. */
export function useTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = TEST_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = TEST_SECRET_KEY;
  delete process.env.AWS_SESSION_TOKEN;
  // Keep the SDK's notice about Node 20 support out of the test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}

/** Starts a server in a new temp folder under `parent`; resolves once it listens. */
export async function startS3Server(parent = os.tmpdir()): Promise<S3TestServer> {
  useTestCredentials();
  const dir = await fsp.mkdtemp(path.join(parent, 'ckptd-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const port = await readPort(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
  const bucketDir = (bucket: string): string => path.join(dir, 'data', bucket);
  const uploadsDir = (bucket: string): string => path.join(bucketDir(bucket), '._S3rver_uploads');
  return {
    endpoint,
    port,
    dir,
    async newBucket() {
      const name = `t-${randomBytes(6).toString('hex')}`;
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async storedObjects(bucket) {
      const suffix = '._S3rver_object';
      const base = bucketDir(bucket);
      const files = (await fsp.readdir(base, { recursive: true })).filter((f) => f.endsWith(suffix) && !f.startsWith('._S3rver_uploads'));
      return files
        .map((f) => ({ key: f.slice(0, -suffix.length).split(path.sep).join('/'), file: path.join(base, f) }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async pendingUploads(bucket) {
      const ids = await fsp.readdir(uploadsDir(bucket)).catch(() => []);
      return ids.filter((id) => fs.existsSync(path.join(uploadsDir(bucket), id, 'key'))).sort();
    },
    async backdateUpload(bucket, uploadId, when) {
      await fsp.utimes(path.join(uploadsDir(bucket), uploadId, 'key'), when, when);
    },
    async stop() {
      admin.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      await exited;
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** The port the child prints first; rejects with its stderr when it exits before. */
function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the test S3 server exited (${code}) before listening: ${err}`)));
  });
}
