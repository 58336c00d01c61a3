/**
 * Issue 14 end to end: the daemon beside a kohya trainer that keeps every epoch's LoRA
 * (`train_network.py` with `save_every_n_epochs: 1` and `--save_state`) saves the newest LoRA
 * only, each save after its backup, with no `save.pick` written (the kohya preset's default).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemon, tempDir, type DaemonHandle } from '../helpers/daemon-process.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const config = (runDir: string): string => `log:
  level: debug
  format: json
runs:
  - name: lora
    path: ${runDir}
    settle: 300ms
    progress: kohya
    backup: {every: never, keep: 5}
    save: {every: 1 epochs, files: ["*.safetensors"]}
    retention: {min_free: 1MB}
`;

/**
 * What kohya leaves after epoch `e`: `save_model` writes `NAME-00000E.safetensors`, then
 * `save_and_remove_state_on_epoch_end` the accelerate state folder `NAME-00000E-state/`.
 */
function writeEpoch(runDir: string, e: number): void {
  const name = `lora-${String(e).padStart(6, '0')}`;
  fs.writeFileSync(path.join(runDir, `${name}.safetensors`), `LoRA weights after epoch ${e}`);
  const state = path.join(runDir, `${name}-state`);
  fs.mkdirSync(state);
  // sd-scripts' save hook writes train_state.json first, accelerate the random states last.
  fs.writeFileSync(path.join(state, 'train_state.json'), JSON.stringify({ current_epoch: e, current_step: e * 100 }));
  fs.writeFileSync(path.join(state, 'model.safetensors'), `accelerate state ${e}`);
  fs.writeFileSync(path.join(state, 'optimizer.bin'), `optimizer ${e}`);
  fs.writeFileSync(path.join(state, 'random_states_0.pkl'), `random states ${e}`);
}

async function trainEpoch(d: DaemonHandle, runDir: string, e: number): Promise<void> {
  writeEpoch(runDir, e);
  await d.waitFor((l) => l.event === 'evaluated' && l.epoch === e, 30_000, `evaluation of epoch ${e}`);
}

interface Item {
  id: string;
  kind: string;
  epoch: number | null;
  path: string;
  from_snapshot?: string | null;
}

describe('daemon saves of a kohya run', () => {
  it('hold the newest epoch\'s LoRA only, not every epoch\'s', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runDir = path.join(t.dir, 'output');
    fs.mkdirSync(runDir);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, config(runDir));
    const d = startDaemon(['daemon', '--config', cfg]);
    cleanups.push(() => d.stop());
    await d.waitFor((l) => l.event === 'daemon-start', 20_000, 'daemon start');

    for (let e = 1; e <= 3; e++) await trainEpoch(d, runDir, e);

    const items = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as Item[];
    const saves = items.filter((i) => i.kind === 'save');
    expect(saves.map((s) => s.epoch)).toEqual([3, 2, 1]);
    for (const s of saves) {
      // One file: the save is that file itself, the epoch's LoRA byte for byte.
      expect(fs.statSync(s.path).isFile()).toBe(true);
      expect(fs.readFileSync(s.path, 'utf8')).toBe(`LoRA weights after epoch ${s.epoch}`);
      expect(s.from_snapshot).toEqual(expect.any(String));
    }
    const logged = d.lines.filter((l) => l.event === 'save').map((l) => l.message);
    expect(logged.at(-1)).toMatch(/save\.pick newest: lora-000003\.safetensors; left out 2 older models: lora-000002\.safetensors, lora-000001\.safetensors$/);
    expect(await d.stop()).toBe(0);
  });
});
