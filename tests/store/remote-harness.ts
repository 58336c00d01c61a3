/**
 * The conformance harness of the remote store: one test S3 server (s3rver) for the test file,
 * started by the first harness; per harness a new bucket, a scratch folder, and a run and save
 * folder. `corrupt` flips a byte of the blob ON THE SERVER's disk (found by the oracle, size
 * kept); the leftovers are what the scratch folder holds and the multipart uploads in progress.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { openRemoteStore } from '../../src/store/remote/remote-store.js';
import { openS3Objects, type S3Objects } from '../../src/store/remote/s3-objects.js';
import { parseS3Target } from '../../src/store/remote/s3-target.js';
import type { RecordMeta } from '../../src/store/types.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import type { StoreHarness } from './conformance.js';
import { runAndStore } from './fixtures.js';

const PREFIX = 'ckptd/';
let server: Promise<S3TestServer> | null = null;
let opened: S3Objects[] = [];

afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});
afterAll(async () => {
  await (await server)?.stop();
  server = null;
});

/** A remote store on a new bucket of this file's server (started on first use), run `r`. */
export async function remoteHarness(): Promise<StoreHarness> {
  server ??= startS3Server();
  const s3 = await server;
  const bucket = await s3.newBucket();
  const { base, run } = await runAndStore();
  const scratchDir = path.join(base, 'scratch');
  const target = parseS3Target({ url: `s3://${bucket}/${PREFIX}`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
  const open = () => {
    const objects = openS3Objects(target, { retry: { attempts: 3, baseMs: 1, maxMs: 5 } });
    opened.push(objects);
    return openRemoteStore({ objects, run: 'r', scratchDir });
  };
  return {
    store: open(),
    reopen: open,
    runDir: run,
    saveTo: path.join(base, 'exports'),
    corrupt: async (record: RecordMeta, relPath: string) => {
      const sha = record.files.find((f) => f.path === relPath)!.sha256;
      const key = `${PREFIX}blobs/sha256/${sha.slice(0, 2)}/${sha}`;
      const found = (await s3.storedObjects(bucket)).find((o) => o.key === key);
      if (found === undefined) throw new Error(`the server holds no ${key}`);
      const bytes = await fsp.readFile(found.file);
      bytes[0] = bytes[0]! ^ 0xff;
      await fsp.writeFile(found.file, bytes);
    },
    leftovers: async () => {
      const scratch = fs.existsSync(scratchDir) ? fs.readdirSync(scratchDir).map((n) => path.join(scratchDir, n)) : [];
      const uploads = (await s3.pendingUploads(bucket)).map((id) => `upload ${id}`);
      return [...scratch, ...uploads].sort();
    },
  };
}
