import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runInit } from '../../src/cli/init.js';
import { loadConfigFile } from '../../src/config/load.js';
import { INIT_PRESETS } from '../../src/config/presets.js';
import { zeroConfig } from '../../src/config/zero-config.js';
import { UsageError } from '../../src/util/errors.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function temp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-init-'));
  dirs.push(d);
  return d;
}

describe('ckptd init', () => {
  it.each(INIT_PRESETS.map((p) => [p]))('--preset %s writes a commented config that loads, with the run path relative to it', (preset) => {
    const dir = temp();
    const configPath = path.join(dir, 'ckptd.yaml');
    runInit({ dir: path.join(dir, 'My Run'), preset, configPath, force: false });
    const text = fs.readFileSync(configPath, 'utf8');
    expect(text).toMatch(/^# ckptd config written by `ckptd init --preset /);
    expect(text).toContain('path: "./My Run"');
    const config = loadConfigFile(configPath);
    expect(config.runs[0]!.name).toBe('my-run');
    expect(config.runs[0]!.path).toBe(path.join(dir, 'My Run'));
    if (preset !== 'generic') expect(config.runs[0]!.progress).toEqual({ kind: 'preset', preset });
    // The trainers that keep every version they write save the newest model only.
    expect(config.runs[0]!.save.pick).toBe(['hf', 'lightning', 'onetrainer', 'kohya'].includes(preset) ? 'newest' : 'auto');
  });

  it.each(INIT_PRESETS.map((p) => [p]))('--preset %s lines its comments up in one column', (preset) => {
    const dir = temp();
    const configPath = path.join(dir, 'ckptd.yaml');
    runInit({ dir: path.join(dir, 'out'), preset, configPath, force: false });
    const columns = new Set(
      fs
        .readFileSync(configPath, 'utf8')
        .split('\n')
        .filter((l) => /^\s+[a-z_]+: \S.*\s#\s/.test(l))
        .map((l) => `${l.indexOf(' #') + 1}`),
    );
    expect([...columns]).toEqual(['29']); // 0-based: `# ` starts at column 30
  });

  it('--preset kohya leaves out the logs of sd-scripts (logs/) and of the kohya_ss GUI (log/), and the samples, at any depth', () => {
    const dir = temp();
    const configPath = path.join(dir, 'ckptd.yaml');
    runInit({ dir: path.join(dir, 'project'), preset: 'kohya', configPath, force: false });
    expect(loadConfigFile(configPath).runs[0]!.exclude).toEqual(expect.arrayContaining(['**/logs/**', '**/log/**', '**/sample/**']));
  });

  it('says the run path is relative to the config only when it is: a folder outside its folder is written absolute', () => {
    const dir = temp();
    const inside = path.join(dir, 'inside.yaml');
    runInit({ dir: path.join(dir, 'run'), preset: 'generic', configPath: inside, force: false });
    expect(fs.readFileSync(inside, 'utf8')).toMatch(/^ {4}path: \.\/run +# the folder the trainer writes \(relative to this file\)$/m);
    const configPath = path.join(dir, 'conf', 'ckptd.yaml');
    fs.mkdirSync(path.dirname(configPath));
    const elsewhere = path.join(temp(), 'run');
    runInit({ dir: elsewhere, preset: 'generic', configPath, force: false });
    const text = fs.readFileSync(configPath, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('    path: '));
    expect(line).toMatch(new RegExp(`^ {4}path: ${elsewhere.replaceAll('/', '\\/')} +# the folder the trainer writes$`));
    expect(loadConfigFile(configPath).runs[0]!.path).toBe(elsewhere);
  });

  it('refuses to overwrite an existing config without --force', () => {
    const dir = temp();
    const configPath = path.join(dir, 'ckptd.yaml');
    fs.writeFileSync(configPath, 'mine');
    expect(() => runInit({ dir: path.join(dir, 'run'), preset: 'hf', configPath, force: false })).toThrow(/already exists; pass --force/);
    expect(fs.readFileSync(configPath, 'utf8')).toBe('mine');
    runInit({ dir: path.join(dir, 'run'), preset: 'hf', configPath, force: true });
    expect(loadConfigFile(configPath).runs[0]!.progress).toEqual({ kind: 'preset', preset: 'hf' });
  });

  it('with --force, still refuses (exit 2) a --config that is a folder, and leaves it as it was', () => {
    const dir = temp();
    fs.mkdirSync(path.join(dir, 'conf'));
    fs.writeFileSync(path.join(dir, 'conf', 'keep'), 'k');
    const go = () => runInit({ dir: path.join(dir, 'run'), preset: 'hf', configPath: path.join(dir, 'conf'), force: true });
    expect(go).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining(`${path.join(dir, 'conf')} is a folder`) }));
    expect(fs.readdirSync(dir).sort()).toEqual(['conf']);
    expect(fs.readdirSync(path.join(dir, 'conf'))).toEqual(['keep']);
  });

  it('refuses (exit 2) a DIR that is a file, and writes no config', () => {
    const dir = temp();
    fs.writeFileSync(path.join(dir, 'model.bin'), 'x');
    const configPath = path.join(dir, 'ckptd.yaml');
    const go = () => runInit({ dir: path.join(dir, 'model.bin'), preset: 'generic', configPath, force: false });
    expect(go).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining(`${path.join(dir, 'model.bin')} is a file, not a folder`) }));
    expect(fs.existsSync(configPath)).toBe(false);
  });
});

describe('zeroConfig (ckptd watch DIR)', () => {
  it('backs up every change, keeps 5, stores beside the folder', () => {
    const c = zeroConfig('/data/Run 7');
    expect(c.runs[0]).toMatchObject({
      name: 'run-7',
      path: '/data/Run 7',
      store: '/data/.ckptd/Run 7',
      include: ['**/*'],
      progress: { kind: 'auto' },
      backup: { every: { unit: 'changes', n: 1 }, rolling: true, keep: 5 },
    });
  });

  it('gives two folders whose names make the same run name stores of their own (SPEC: <basename>)', () => {
    const stores = ['/data/Run A', '/data/run-a', '/data/训练', '/data/模型'].map((d) => zeroConfig(d).runs[0]!.store);
    expect(new Set(stores).size).toBe(4);
    expect(stores).toEqual(['/data/.ckptd/Run A', '/data/.ckptd/run-a', '/data/.ckptd/训练', '/data/.ckptd/模型']);
  });

  it('refuses a store inside the folder or the root as the folder: a usage error naming the flag, not a config file that does not exist', () => {
    for (const [dir, store, message] of [
      ['/data/run', '/data/run/.store', /^ckptd watch: the store \/data\/run\/\.store is inside the watched folder \/data\/run; pass --store with a folder outside it$/],
      ['/', undefined, /^ckptd watch: cannot watch the file system root; name the folder the trainer writes$/],
    ] as const) {
      let thrown: unknown = null;
      try {
        zeroConfig(dir, store);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UsageError);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});
