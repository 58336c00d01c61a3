/** The local store (SPEC section 5) passes the Store conformance suite. */
import { localHarness } from './local-harness.js';
import { describeStore } from './conformance.js';

describeStore('local', localHarness);
