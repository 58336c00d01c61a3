/**
 * Bounded worker pools (capture and restore run large files two at a time beside many small
 * ones): several pools, each with its own parallelism, all running at once.
 */

/** A set of items to work on, and how many of them may be in flight at once. */
export interface Pool<T> {
  items: T[];
  parallel: number;
}

/**
 * Runs `work` over each pool's items with that pool's parallelism, all pools at once; results come
 * in the order the work finished. After the first error no new item is started; every item already
 * running is awaited (whether it succeeds or fails), and only then is that first error thrown, so
 * nothing started by `work` is still running when the caller cleans up.
 */
export async function runPools<T, R>(pools: Pool<T>[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let failed: { err: unknown } | null = null;
  const lanes: Promise<void>[] = [];
  for (const pool of pools) {
    let next = 0;
    for (let lane = 0; lane < Math.min(pool.parallel, pool.items.length); lane++) {
      lanes.push(
        (async () => {
          while (failed === null && next < pool.items.length) {
            const item = pool.items[next++]!;
            try {
              out.push(await work(item));
            } catch (err) {
              failed ??= { err };
            }
          }
        })(),
      );
    }
  }
  await Promise.all(lanes);
  if (failed !== null) throw (failed as { err: unknown }).err;
  return out;
}

/**
 * `work` over `items`, at most `parallel` at a time; results in the order of `items` (one pool of
 * `runPools`, so the same error rule: the first error is thrown once every running item settled).
 */
export async function mapPool<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  await runPools([{ items: items.map((_, i) => i), parallel }], async (i) => {
    out[i] = await work(items[i]!);
  });
  return out;
}
