/**
 * Running store code in a child node that stops dead at a chosen file-system call, to be killed
 * there with SIGKILL: a crash at an exact, observable point, with no timing involved.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `src/store` and the layers it imports (util, policy), transpiled to plain JS in a new temp folder that a child node can
 * run (`<out>/src/store/*.js`). The caller removes `out`.
 */
export async function buildStore(): Promise<string> {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckptd-store-child-'));
  // The store and every layer below it it may import (util, policy): a new helper there needs no edit here.
  const files = ['src/store', 'src/util', 'src/policy'].flatMap((dir) =>
    fs.readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith('.ts')).map((n) => `${dir}/${n}`),
  );
  for (const rel of files) {
    const js = ts.transpileModule(fs.readFileSync(path.join(ROOT, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
    fs.writeFileSync(path.join(out, rel.replace(/\.ts$/, '.js')), js);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return out;
}

/**
 * Prepended to a child script: counts the calls of `node:fs/promises` that change the disk (open
 * for writing, rename, link, unlink, mkdir, rm, rmdir, symlink, copyFile, chmod) and, before the
 * one numbered `process.env.STOP_AT` (from 0), prints `stopped <call> <path>` and waits forever
 * (no later line of the script, no cleanup, runs). Prints `done` when the script ends first.
 */
const PREAMBLE = `
import __fsp from 'node:fs/promises';
const stopAt = Number(process.env.STOP_AT);
let calls = 0;
for (const name of ['open', 'rename', 'link', 'unlink', 'mkdir', 'rm', 'rmdir', 'symlink', 'copyFile', 'chmod']) {
  const orig = __fsp[name];
  __fsp[name] = async (...args) => {
    const writes = name !== 'open' || (args[1] !== undefined && args[1] !== 'r');
    if (writes && calls++ === stopAt) {
      process.stdout.write('stopped ' + name + ' ' + args[0] + '\\n');
      setInterval(() => undefined, 1 << 30);
      await new Promise(() => undefined);
    }
    return orig.apply(__fsp, args);
  };
}
`;

/**
 * Runs `script` (ES module text; imports relative to `built`) in a child with the stop at call
 * `stopAt`; kills it with SIGKILL once it stopped. Resolves `{ stopped }` naming the call it was
 * killed before, or `{ stopped: null }` when the script finished first. Rejects when the child
 * fails on its own.
 */
export async function runUntilStop(built: string, script: string, args: string[], stopAt: number): Promise<{ stopped: string | null }> {
  const file = path.join(built, `child-${process.pid}-${Math.random().toString(16).slice(2)}.mjs`);
  fs.writeFileSync(file, PREAMBLE + script + "\nprocess.stdout.write('done\\n');\n");
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STOP_AT: String(stopAt) } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const stopped = await new Promise<string | null>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^stopped (.*)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => resolve(null));
  });
  if (stopped !== null) child.kill('SIGKILL');
  const code = await exited;
  fs.rmSync(file, { force: true });
  if (stopped === null && (code !== 0 || !out.includes('done'))) throw new Error(`child failed (exit ${code}): ${err}`);
  return { stopped };
}
