/** `ckptd check-config` on a wrong `progress:` prints one problem that says what to write, and no follow-up blaming it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/cli/check-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function check(text: string): { exitCode: number; lines: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-check-'));
  dirs.push(dir);
  const file = path.join(dir, 'ckptd.yaml');
  fs.writeFileSync(file, text);
  const r = checkConfig(file);
  return { exitCode: r.exitCode, lines: r.output.split('\n').map((l) => l.replaceAll(dir, 'D')) };
}

const run = (progress: string, more = ''): string => `runs:\n  - name: a\n    path: r\n    progress: ${progress}\n${more}`;
const EPOCHS = '    backup: {every: 3 epochs}\n    save: {every: 10 steps}\n';

describe('check-config on a wrong progress source', () => {
  it.each([
    [
      'generic (an init preset)',
      run('generic', EPOCHS),
      'D/ckptd.yaml:4:15 runs.0.progress: "generic" is a preset of `ckptd init --preset`, not a progress source; write progress: auto (tries each trainer preset), a trainer preset (hf, lightning, keras, onetrainer, kohya, dfl), {file, epoch, step, loss} or {filename: REGEX}',
    ],
    [
      'an unknown name',
      run('hugging', EPOCHS),
      'D/ckptd.yaml:4:15 runs.0.progress: "hugging" is not a progress source; use auto, none, hf, lightning, keras, onetrainer, kohya, dfl, {file, epoch, step, loss} or {filename: REGEX}',
    ],
    ['a file source without key paths', run('{file: s.json}', EPOCHS), 'D/ckptd.yaml:4:15 runs.0.progress: a file source needs at least one of epoch, step, loss or metrics'],
  ])('%s: one problem, no follow-up about epochs or steps', (_name, text, expected) => {
    expect(check(text)).toEqual({ exitCode: 2, lines: [expected] });
  });

  it('still reports that epochs need a source when progress is none', () => {
    expect(check(run('none', '    backup: {every: 3 epochs}\n')).lines).toEqual([
      'D/ckptd.yaml:5:21 runs.0.backup.every: "epochs" needs a progress source, but progress is none; set progress (auto, hf, ...) or use a time or change schedule',
    ]);
  });

  it('accepts $[-1].epoch and history[-1].epoch key paths', () => {
    expect(check(run('{file: history.json, epoch: "$[-1].epoch", loss: "history[-1].train_loss"}', EPOCHS.replace('10 steps', 'never'))).exitCode).toBe(0);
  });
});
