/**
 * `--config` (and the file a daemon re-reads on SIGHUP) names a YAML file. A pipe, a device or a
 * file far too large to be a config gets a clear message at once: reading a FIFO or /dev/zero
 * whole hung the command, or a daemon's reload, for good.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/util/errors.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function problemOf(file: string): string {
  try {
    loadConfigFile(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => p.message).join('; ');
  }
  return 'loaded';
}

describe('a config path that is not a YAML file', () => {
  it('a FIFO, a device, a huge file, a folder: a message, no hang', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-config-kinds-'));
    dirs.push(dir);
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(problemOf(fifo)).toMatch(/cannot read the config: it is not a regular file \(a pipe, a socket or a device\)/);
    expect(problemOf('/dev/zero')).toMatch(/not a regular file/);
    const huge = path.join(dir, 'huge.yaml');
    fs.writeFileSync(huge, `# ${'x'.repeat(2 << 20)}\nruns: []\n`);
    expect(problemOf(huge)).toMatch(/bytes, over the 1048576 a config may have/);
    expect(problemOf(dir)).toMatch(/it is a folder, not a file/);
  });
});
