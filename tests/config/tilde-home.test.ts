/**
 * `~` in a config path needs a home folder: with HOME set but empty (or relative), `~/run` would
 * become a relative path, resolved against wherever ckptd was started. That is a config problem
 * at the key, never a silent relative path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { runCli, tempDir } from '../helpers/daemon-process.js';

const FILE = '/srv/train/ckptd.yaml';

function problems(text: string, home: string): string[] {
  const r = parseConfigText(text, FILE, home);
  if (!('problems' in r)) throw new Error(`expected problems, the config loaded: ${JSON.stringify(r.config.runs[0])}`);
  return r.problems.map((p) => `${p.keyPath}: ${p.message}`);
}

describe('~ with no usable HOME', () => {
  it('is a problem at each key that uses ~, naming HOME', () => {
    const text =
      'log: {file: ~/ckptd.log}\nmetrics: {file: ~/m.prom}\nruns:\n  - name: a\n    path: ~/run\n    store: ~/store\n    progress: none\n    save: {to: ~/saves}\n';
    expect(problems(text, '')).toEqual([
      'runs.0.path: "~/run" starts with ~, which needs HOME, but HOME is empty; set HOME to your home folder, or write the full path',
      'runs.0.store: "~/store" starts with ~, which needs HOME, but HOME is empty; set HOME to your home folder, or write the full path',
      'runs.0.save.to: "~/saves" starts with ~, which needs HOME, but HOME is empty; set HOME to your home folder, or write the full path',
      'log.file: "~/ckptd.log" starts with ~, which needs HOME, but HOME is empty; set HOME to your home folder, or write the full path',
      'metrics.file: "~/m.prom" starts with ~, which needs HOME, but HOME is empty; set HOME to your home folder, or write the full path',
    ]);
  });

  it('says so for a relative HOME too', () => {
    expect(problems('runs:\n  - name: a\n    path: ~/run\n    progress: none\n', 'home/ana')).toEqual([
      'runs.0.path: "~/run" starts with ~, which needs HOME, but HOME is "home/ana", not an absolute folder; set HOME to your home folder, or write the full path',
    ]);
  });

  it('is no problem when no path uses ~', () => {
    expect('config' in parseConfigText('runs:\n  - name: a\n    path: ./run\n    progress: none\n', FILE, '')).toBe(true);
  });

  it('makes `HOME= ckptd check-config` exit 2 at the line of the key', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.writeFileSync(config, 'runs:\n  - name: a\n    path: ~/run\n    progress: none\n');
      const r = await runCli(['check-config', config], { env: { HOME: '' } });
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`${config}:3:11 runs.0.path: "~/run" starts with ~, which needs HOME, but HOME is empty`);
    } finally {
      cleanup();
    }
  });
});
