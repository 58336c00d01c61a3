/**
 * A large source truncated while it is being copied (what `torch.save` does when it rewrites a
 * checkpoint in place) must end the copy: the capture settles with `FileChangedError`, leaves no
 * copy, and leaves nothing running that would keep the process alive. Each test's own timeout is
 * the watchdog: a copy that makes no progress fails it instead of hanging the suite.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { captureFile, FileChangedError } from '../../src/store/capture-file.js';
import { captureState } from '../../src/store/capture-state.js';
import { scanState } from '../../src/store/scan.js';
import { age, put, runAndStore, scanAll, sha256, tempDir } from './fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MiB = 1 << 20;
/** Well above one copy chunk: the truncation lands while the copy is still running. */
const SIZE = 96 * MiB;
/** The watchdog: a capture that has not settled by then is a hang. */
const WATCHDOG_MS = 20_000;

/**
 * Captures one file over `SMALL_FILE` first, so the copy under test starts on a running worker:
 * its first chunk is done (and the truncation made) while most of the file is still to copy.
 */
async function warmUp(dir: string): Promise<void> {
  const src = put(dir, 'warm.bin', randomBytes(2 * MiB));
  const [e] = await scanState(dir, { include: ['warm.bin'], exclude: [], excludeAbs: [] });
  await captureFile(src, path.join(dir, 'warm.copy'), e!);
}

describe('a source truncated during its copy', () => {
  it(
    'ends the copy: captureFile rejects with FileChangedError and leaves no copy',
    async () => {
      const dir = await tempDir();
      await warmUp(dir);
      const src = put(dir, 'last.ckpt', randomBytes(SIZE));
      age(src);
      const [e] = await scanState(dir, { include: ['last.ckpt'], exclude: [], excludeAbs: [] });
      const dst = path.join(dir, 'dst');
      let truncated = false;
      const err = await captureFile(src, dst, e!, {
        onBytes: () => {
          if (truncated) return;
          truncated = true;
          // `: > last.ckpt`, once the first chunk is done.
          fs.truncateSync(src, 0);
        },
      }).catch((x: unknown) => x);
      expect(truncated).toBe(true);
      expect(err).toBeInstanceOf(FileChangedError);
      expect((err as FileChangedError).path).toBe(src);
      expect(fs.existsSync(dst)).toBe(false);
    },
    WATCHDOG_MS,
  );

  it(
    'captureState settles: the file is captured again in its new version or skipped, never waited on',
    async () => {
      const { base, run, store } = await runAndStore();
      await warmUp(base);
      fs.mkdirSync(path.join(store, 'snap'), { recursive: true });
      const src = put(run, 'last.ckpt', randomBytes(SIZE));
      age(src);
      const entries = await scanAll(run, store);
      let truncated = false;
      const out = await captureState({
        runDir: run,
        entries,
        dest: path.join(store, 'snap'),
        previous: null,
        settleMs: 0,
        retries: 2,
        retryDelayMs: 5,
        onProgress: () => {
          if (truncated) return;
          truncated = true;
          fs.truncateSync(src, 0);
        },
      });
      expect(truncated).toBe(true);
      const stored = out.files.find((f) => f.path === 'last.ckpt');
      if (stored) expect(stored).toMatchObject({ size: 0, sha256: sha256('') });
      else expect(out.skipped.map((s) => s.path)).toEqual(['last.ckpt']);
    },
    WATCHDOG_MS,
  );

  it(
    'leaves nothing behind that keeps the process alive',
    async () => {
      const dir = await tempDir();
      const src = put(dir, 'last.ckpt', randomBytes(SIZE));
      age(src);
      // The built module in a process of its own: it must exit as soon as the capture failed.
      const script = `
        import fs from 'node:fs';
        const { captureFile } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/store/capture-file.js'))});
        const { scanState } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/store/scan.js'))});
        const [e] = await scanState(${JSON.stringify(dir)}, { include: ['last.ckpt'], exclude: [], excludeAbs: [] });
        const warm = ${JSON.stringify(path.join(dir, 'warm.bin'))};
        fs.writeFileSync(warm, Buffer.alloc(${2 * MiB}, 1));
        const [w] = await scanState(${JSON.stringify(dir)}, { include: ['warm.bin'], exclude: [], excludeAbs: [] });
        await captureFile(warm, warm + '.copy', w);
        let truncated = false;
        const onBytes = () => { if (!truncated) { truncated = true; fs.truncateSync(${JSON.stringify(src)}, 0); } };
        const err = await captureFile(${JSON.stringify(src)}, ${JSON.stringify(path.join(dir, 'dst'))}, e, { onBytes }).catch((x) => x);
        console.log(err?.name);
      `;
      // Killed (and failed) if still running well before the test's own timeout.
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: WATCHDOG_MS - 5_000 });
      expect(stdout.trim()).toBe('FileChangedError');
    },
    WATCHDOG_MS,
  );
});
