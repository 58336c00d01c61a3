/**
 * Preload for a child `node` (`--import` this file, see `pause-at.ts`): stops the process with
 * SIGSTOP right after the Nth file-system call that matches `CKPTD_TEST_PAUSE_AT`, a JSON
 * `{"op": "open" | "unlink" | "rename", "path": "<regex source>", "nth": 1}` (for a rename, `path`
 * is matched against the destination). Before it stops it writes `ckptd-test-paused <op> <path>`
 * on stderr. The test then sees the store exactly as it is at that point of the work, however fast
 * the disk or the copy (a reflink is instant), and kills or continues the child.
 * Only the calls made through the `fs` and `fs/promises` objects (as ckptd's code makes them) are seen.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const spec = process.env.CKPTD_TEST_PAUSE_AT;
if (spec && isMainThread) {
  const { op, path: source, nth = 1 } = JSON.parse(spec);
  const re = new RegExp(source);
  let seen = 0;
  /** Counts a call on `p` (a string, Buffer or URL); on the Nth match, reports it and stops the process. */
  const after = (kind, p) => {
    if (kind !== op || !re.test(String(p)) || ++seen !== nth) return;
    fs.writeSync(2, `\nckptd-test-paused ${kind} ${String(p)}\n`);
    process.kill(process.pid, 'SIGSTOP');
  };
  const wrapAsync = (obj, name, kind, pick) => {
    const orig = obj[name];
    obj[name] = async function (...args) {
      const r = await orig.apply(this, args);
      after(kind, pick(args));
      return r;
    };
  };
  const wrapSync = (obj, name, kind, pick) => {
    const orig = obj[name];
    obj[name] = function (...args) {
      const r = orig.apply(this, args);
      after(kind, pick(args));
      return r;
    };
  };
  wrapAsync(fsp, 'open', 'open', (a) => a[0]);
  wrapAsync(fsp, 'unlink', 'unlink', (a) => a[0]);
  wrapAsync(fsp, 'rename', 'rename', (a) => a[1]);
  wrapSync(fs, 'openSync', 'open', (a) => a[0]);
  wrapSync(fs, 'unlinkSync', 'unlink', (a) => a[0]);
  wrapSync(fs, 'renameSync', 'rename', (a) => a[1]);
  syncBuiltinESMExports();
}
