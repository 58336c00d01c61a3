/**
 * How far V8 lets the daemon's heap grow past what is alive before it collects again.
 *
 * After each full collection V8 lets the old generation grow by a factor it derives from the speed
 * of the collector and of the program, up to 4x on a machine with much memory. A capture of 100,000
 * small files holds ~60-90 MB alive (the scan, the previous manifest, the new one) and discards as
 * much as it keeps, so the peak RSS reached 4x that (390-640 MB for a one-file change, see
 * docs/BENCHMARKS.md "Many files"). Capped at `HEAP_GROWING_PERCENT`, the heap is collected more
 * often while it grows; the marking runs concurrently on another core, and the bench measured no
 * slower capture. Read by V8 at each collection, so it can be set at run time, for this process only.
 */
import v8 from 'node:v8';

/** The old generation may grow by this percentage of what was alive at the last full collection. */
export const HEAP_GROWING_PERCENT = 25;

/**
 * Caps this process's heap growth (see the file comment). Every `ckptd` process calls it at start
 * (the daemon, `ckptd run`, and one-shot commands reading large manifests); a flag given to node
 * itself (`--heap-growing-percent`) wins. Calling it again changes nothing.
 */
export function limitHeapGrowth(): void {
  if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  if ((process.env.NODE_OPTIONS ?? '').match(/--heap[-_]growing[-_]percent/)) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
