/**
 * The run's remote store (SPEC section 8), opened on demand. The AWS SDK is imported only here and
 * only when a remote is used: every other command starts without paying for it.
 */
import path from 'node:path';
import type { RunConfig } from '../config/types.js';
import type { RemoteStore } from '../store/remote/remote-store.js';
import type { S3ObjectsOptions } from '../store/remote/s3-objects.js';
import { UsageError } from '../util/errors.js';

/** Where a remote store stages locally: beside the run's local store (swept with it). */
export function remoteScratchDir(run: RunConfig): string {
  return path.join(run.store, '.remote-staging');
}

/**
 * The remote store of `run`; throws a `UsageError` naming the fix when the run has none. `options`
 * tune its object layer (fewer retries and shorter timeouts for a page that must answer soon).
 */
export async function openRunRemote(run: RunConfig, options: S3ObjectsOptions = {}): Promise<RemoteStore> {
  const remote = run.remote;
  if (remote === null) {
    throw new UsageError(`run ${run.name} has no remote: add a remote: section (url: s3://BUCKET/PREFIX) to the config, top level or in the run; see config.example.yaml`);
  }
  // Node 20 is supported by the SDK version ckptd pins; its notice about Node 22 is for the SDK's own future.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [{ parseS3Target }, { openS3Objects }, { openRemoteStore }] = await Promise.all([
    import('../store/remote/s3-target.js'),
    import('../store/remote/s3-objects.js'),
    import('../store/remote/remote-store.js'),
  ]);
  const target = parseS3Target({ url: remote.url, endpoint: remote.endpoint, region: remote.region, forcePathStyle: remote.forcePathStyle, bandwidth: remote.bandwidthBytesPerSec });
  return openRemoteStore({ objects: openS3Objects(target, options), run: run.name, scratchDir: remoteScratchDir(run) });
}
