/**
 * Bad command lines get the exit code of SPEC section 2 (2: bad usage) and a message that names
 * what to type instead; help asked for is exit 0, help shown because the command line was wrong is not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';

describe('ckptd with no command', () => {
  it('prints the help to stderr and exits 2, with nothing on stdout', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: ckptd [options] [command]');
  });

  it('exits 2 for `ckptd help` of a command that does not exist', async () => {
    expect((await runCli(['help', 'bogus'])).code).toBe(2);
  });

  it('still exits 0 for help asked for', async () => {
    for (const args of [['--help'], ['help'], ['help', 'list'], ['list', '--help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toContain('Usage: ckptd');
    }
  });
});

describe('rename and note name what was given, not flags they do not have', () => {
  it.each([
    ['rename, two lines', ['rename', 'x', 'two\nlines'], '<name> contains control characters (names are one line)'],
    ['rename, too long', ['rename', 'x', 'n'.repeat(201)], '<name> is 201 characters long; the limit is 200'],
    ['note, a bell', ['note', 'x', 'bell\u0007'], '<text> contains control characters'],
    // C1 controls: U+009B is a terminal's CSI, which `list` and `show` would print as is.
    ['rename, a C1 escape', ['rename', 'x', 'red\u009b31m'], '<name> contains control characters'],
    ['note, a C1 escape', ['note', 'x', 'red\u009b31m'], '<text> contains control characters'],
    ['note, too long', ['note', 'x', 't'.repeat(10_001)], '<text> is 10001 characters long; the limit is 10000'],
  ])('%s', async (_name, args, message) => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.writeFileSync(config, 'runs:\n  - name: a\n    path: ./run\n    progress: none\n');
      const r = await runCli([...args, '--config', config]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/--name|--notes/);
    } finally {
      cleanup();
    }
  });
});

describe('progress --metric', () => {
  it('refuses __proto__ (which a plain object would drop) with exit 2, and writes nothing', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.mkdirSync(path.join(dir, 'run'));
      fs.writeFileSync(config, 'runs:\n  - name: a\n    path: ./run\n    progress: none\n');
      const r = await runCli(['progress', '--metric', 'acc=0.9', '--metric', '__proto__=5', '--config', config]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('"__proto__" cannot be a metric name');
      expect(fs.readdirSync(path.join(dir, 'run'))).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it('keeps keys that only look special as plain metrics, and pollutes no prototype', async () => {
    const { parseMetricArgs } = await import('../../src/cli/progress.js');
    const m = parseMetricArgs(['constructor=1', 'toString=2', 'hasOwnProperty=3', 'prototype=4']);
    expect(JSON.parse(JSON.stringify(m))).toEqual({ constructor: 1, toString: 2, hasOwnProperty: 3, prototype: 4 });
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString);
  });
});

describe('flags that only mean something with --remote', () => {
  // `verify --read-data` without `--remote` used to verify the local store and say "ok": a user
  // who forgot `--remote` took that for a checked remote. `list --all-runs` alone listed one run.
  it.each([
    ['verify --read-data', ['verify', '--read-data'], '--read-data works only with --remote'],
    ['list --all-runs', ['list', '--all-runs'], '--all-runs works only with --remote'],
  ])('%s without --remote exits 2 and says so', async (_name, args, message) => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.mkdirSync(path.join(dir, 'run'));
      fs.writeFileSync(config, 'runs:\n  - name: a\n    path: ./run\n    progress: none\n');
      const r = await runCli([...args, '--config', config]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
    } finally {
      cleanup();
    }
  });
});

describe('--run given to a command about every run of the config', () => {
  // `ckptd daemon --run a` watched both runs (and `--run nosuch` too): a user starting one daemon
  // per run got a daemon that took every store's lock. Such a command now refuses --run.
  it.each([
    ['daemon', ['daemon']],
    ['install-service', ['install-service', '--dry-run']],
    ['init', ['init', './c']],
    ['watch', ['watch', './a']],
  ])('%s --run exits 2, names the command and starts nothing', async (name, args) => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.mkdirSync(path.join(dir, 'a'));
      fs.writeFileSync(config, 'runs:\n  - name: a\n    path: ./a\n    progress: none\n  - name: b\n    path: ./b\n    progress: none\n');
      const r = await runCli([...args, '--config', config, '--run', 'a'], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${name} does not take --run`);
      expect(fs.existsSync(path.join(dir, '.ckptd'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});

describe('flags a command would otherwise ignore', () => {
  it('watch --config exits 2: it watches the folder it is given, with no config', async () => {
    const { dir, cleanup } = tempDir();
    try {
      fs.mkdirSync(path.join(dir, 'a'));
      fs.writeFileSync(path.join(dir, 'ckptd.yaml'), 'runs:\n  - {name: a, path: ./a, progress: none}\n');
      const r = await runCli(['watch', './a', '--config', 'ckptd.yaml'], { cwd: dir, timeoutMs: 8000 });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('watch does not take --config');
      expect(fs.readdirSync(path.join(dir, 'a'))).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it('check-config --run NAME checks only that run, and exits 2 naming the runs when there is none of that name', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const config = path.join(dir, 'ckptd.yaml');
      fs.mkdirSync(path.join(dir, 'b'));
      // Run a's folder is a file: a problem of run a only.
      fs.writeFileSync(path.join(dir, 'a'), 'not a folder');
      fs.writeFileSync(config, 'runs:\n  - {name: a, path: ./a, progress: none}\n  - {name: b, path: ./b, progress: none}\n');
      const whole = await runCli(['check-config', config]);
      expect(whole.code).toBe(2);
      for (const args of [['check-config', config, '--run', 'b'], ['check-config', '--config', config, '--run', 'b']]) {
        const r = await runCli(args);
        expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`${config}: ok (run b)`);
        expect(r.stdout).toContain(`  b: ${path.join(dir, 'b')} -> store`);
        expect(r.stdout).not.toMatch(/^ {2}a: /m);
      }
      const onlyA = await runCli(['check-config', config, '--run', 'a']);
      expect(onlyA.code).toBe(2);
      expect(onlyA.stdout).toContain('runs.0.path: ');
      const none = await runCli(['check-config', config, '--run', 'nosuch']);
      expect(none.code).toBe(2);
      expect(none.stdout).toBe('');
      expect(none.stderr).toContain(`no run named "nosuch" in ${config}; its runs are: a, b`);
    } finally {
      cleanup();
    }
  });
});
