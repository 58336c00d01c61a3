/**
 * The hooks of a test file that drives ckptd against the test S3 server: one server for the file,
 * and the environment a ckptd child process needs to reach it. Kept apart from `s3-server.ts`,
 * which the bench imports outside vitest.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { runCli } from './daemon-process.js';
import { startS3Server, TEST_ACCESS_KEY, TEST_SECRET_KEY, type S3TestServer } from './s3-server.js';

/** The environment a ckptd child process needs to reach the test server (credentials, no SDK notice). */
export const TEST_S3_ENV = { AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/**
 * Registers a test file's hooks: one S3 server for the file, and `cleanups` run (newest first)
 * after each test. Returns a getter for the server.
 */
export function useS3Server(cleanups: (() => void | Promise<unknown>)[]): () => S3TestServer {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return () => server;
}

/** Runs `ckptd --config CFG ARGS...` with `TEST_S3_ENV`, expects exit 0, and returns its stdout. */
export async function s3Cli(cfg: string, ...args: string[]): Promise<string> {
  const r = await runCli(['--config', cfg, ...args], { env: TEST_S3_ENV });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
