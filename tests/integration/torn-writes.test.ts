/**
 * A writer that keeps a large file growing for several seconds (with pauses longer than `settle`
 * while it holds the file open) must never end up as a partial file in any snapshot.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A child process that appends 1 MB every 60 ms for about 4 s, pausing 800 ms twice, then closes. */
const WRITER = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[1], 'w');
const chunk = Buffer.alloc(1 << 20, 7);
let i = 0;
const step = () => {
  if (i === 64) { fs.closeSync(fd); process.exit(0); }
  fs.writeSync(fd, chunk);
  i++;
  setTimeout(step, i === 20 || i === 40 ? 800 : 60);
};
step();
`;

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('torn writes', () => {
  it('never stores a partial file while a writer keeps it growing', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'run');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'notes.txt'), 'hello');
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(
      cfg,
      `log: {level: debug, format: json}
runs:
  - name: grow
    path: ${runDir}
    settle: 500ms
    progress: none
    backup: {every: always, keep: 50}
    retention: {min_free: 1MB}
`,
    );
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'snapshot', 20_000, 'the first backup');

    const big = path.join(runDir, 'big.bin');
    const writer = spawn(process.execPath, ['-e', WRITER, big], { stdio: 'ignore' });
    const writerDone = new Promise<void>((r) => writer.on('exit', () => r()));
    await writerDone;
    const seenBefore = d.lines.length;
    const finalSize = 64 << 20;
    expect(fs.statSync(big).size).toBe(finalSize);
    // The file settles only once the writer has closed it: the next backup is the first to hold it.
    await d.waitFor((l) => l.event === 'snapshot' && d.lines.indexOf(l) >= seenBefore, 30_000, 'a backup after the writer finished');

    const items = JSON.parse((await runCli(['list', '--config', cfg, '--json'])).stdout) as { id: string; path: string }[];
    const finalHash = sha256(big);
    let withBig = 0;
    for (const item of items) {
      const stored = path.join(item.path, 'big.bin');
      if (!fs.existsSync(stored)) continue;
      withBig++;
      expect(fs.statSync(stored).size).toBe(finalSize);
      expect(sha256(stored)).toBe(finalHash);
    }
    expect(withBig).toBeGreaterThan(0);
    expect(await d.stop()).toBe(0);
  });
});
