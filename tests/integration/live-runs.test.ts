/**
 * Live reload beyond policy values: adding a run to the config file starts watching it, removing one
 * stops it, and SIGHUP re-reads the file (a log level change applies without restart).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, tempDir } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function config(level: string, runs: string[]): string {
  return `log: {level: ${level}, format: json}
runs:
${runs.map((name) => `  - {name: ${name}, path: ./${name}, settle: 200ms, progress: none, backup: {every: always}}`).join('\n')}
`;
}

describe('live config: runs added and removed', () => {
  it('starts watching an added run, stops watching a removed one, and reloads on SIGHUP', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    for (const r of ['a', 'b']) fs.mkdirSync(path.join(t.dir, r));
    fs.writeFileSync(cfg, config('info', ['a']));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    fs.writeFileSync(cfg, config('info', ['a', 'b']));
    await d.waitFor((l) => l.event === 'run-added' && l.run === 'b', 20_000, 'run b added');
    await d.waitFor((l) => l.event === 'start' && l.run === 'b', 20_000, 'run b watched');
    fs.writeFileSync(path.join(t.dir, 'b', 'weights.bin'), 'b1');
    await d.waitFor((l) => l.event === 'snapshot' && l.run === 'b', 20_000, 'backup of run b');

    fs.writeFileSync(cfg, config('info', ['b']));
    await d.waitFor((l) => l.event === 'run-removed' && l.run === 'a', 20_000, 'run a removed');
    // A write into the removed run's folder is no longer seen; one into b still is.
    fs.writeFileSync(path.join(t.dir, 'a', 'weights.bin'), 'a1');
    fs.writeFileSync(path.join(t.dir, 'b', 'weights.bin'), 'b2');
    await d.waitFor((l) => l.event === 'snapshot' && l.run === 'b' && d.lines.filter((x) => x.event === 'snapshot').length === 2, 20_000, 'second backup of b');
    expect(d.lines.filter((l) => l.event === 'snapshot' && l.run === 'a')).toEqual([]);

    // An edit that replaces the file (as editors do) applies too: debug logging turned on.
    const before = d.lines.length;
    fs.writeFileSync(`${cfg}.new`, config('debug', ['b']));
    fs.renameSync(`${cfg}.new`, cfg);
    await d.waitFor((l) => l.event === 'config-reloaded' && d.lines.indexOf(l) >= before, 20_000, 'reload');
    fs.writeFileSync(path.join(t.dir, 'b', 'weights.bin'), 'b3');
    await d.waitFor((l) => l.level === 'debug' && d.lines.indexOf(l) >= before, 20_000, 'a debug line after the reload');

    // SIGHUP re-reads the file on demand.
    d.proc.kill('SIGHUP');
    await d.waitFor((l) => l.event === 'config-reloaded' && /SIGHUP/.test(l.message), 20_000, 'SIGHUP reload');
    expect(await d.stop()).toBe(0);
  });
});
