/**
 * Cleanups of one test, for test files whose tests run concurrently (`it.concurrent`): a list
 * shared by the file and emptied in `afterEach` would run a neighbour's cleanups (stop its daemon,
 * remove its folders) when the first test ends.
 */
import type { TestContext } from 'vitest';

/** Returns `push(cleanup)`: every pushed cleanup runs, newest first, once the test has finished (passed or failed). */
export function testCleanups(ctx: Pick<TestContext, 'onTestFinished'>): (cleanup: () => unknown) => void {
  const list: (() => unknown)[] = [];
  ctx.onTestFinished(async () => {
    for (const c of list.splice(0).reverse()) await c();
  });
  return (cleanup) => void list.push(cleanup);
}
