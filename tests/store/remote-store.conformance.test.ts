/**
 * The remote store (SPEC section 8) on a real S3 API server passes the Store conformance suite,
 * directly and through the fault-injecting wrapper with no fault armed.
 */
import { faultyStore } from '../helpers/faulty-store.js';
import { describeStore } from './conformance.js';
import { remoteHarness } from './remote-harness.js';

describeStore('remote (S3 on s3rver)', remoteHarness);

describeStore('faulty wrapper over remote, no fault armed', async () => {
  const h = await remoteHarness();
  return { ...h, store: faultyStore(h.store), reopen: () => faultyStore(h.reopen()) };
});
