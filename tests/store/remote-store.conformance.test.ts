/**
 * The remote store (SPEC section 8) on a real S3 API server passes the Store conformance suite.
 * (The fault-injecting wrapper, which the suite's fault cases put around this store, is proven
 * transparent over the local store in faulty-store.conformance.test.ts: it only forwards `Store`
 * calls, so a second full pass through it here would cost a minute of the suite and prove nothing
 * more.)
 */
import { describeStore } from './conformance.js';
import { remoteHarness } from './remote-harness.js';

describeStore('remote (S3 on s3rver)', remoteHarness);
