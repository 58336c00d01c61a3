/**
 * `ckptd install-service` (system unit, another account): a config file the service's account
 * cannot read is named with advice about the config, not about where node and ckptd are installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installService } from '../../src/cli/install-service.js';
import { zeroConfig } from '../../src/config/zero-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('install-service warnings', () => {
  it('says a config in a closed folder must move (or the folder open), not that node and ckptd must', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-svc-warn-'));
    dirs.push(base);
    fs.chmodSync(base, 0o700);
    const configFile = path.join(base, 'config.yaml');
    fs.writeFileSync(configFile, 'runs: []\n', { mode: 0o644 });
    const config = { ...zeroConfig(path.join(base, 'run'), path.join(base, 'store')), file: configFile };
    const r = installService({
      scope: 'system',
      config,
      configText: '',
      unitName: 'ckptd',
      unitDir: path.join(base, 'units'),
      userName: 'ckptd',
      dryRun: true,
      force: false,
      nodePath: '/bin/sh',
      cliPath: '/bin/sh',
      env: {},
    });
    const about = r.warnings.filter((w) => w.startsWith(configFile));
    expect(about).toHaveLength(1);
    expect(about[0]).toContain(`(${base} is closed to them)`);
    expect(about[0]).toContain('move the config');
    expect(about[0]).not.toContain('install node and ckptd');
  });
});
