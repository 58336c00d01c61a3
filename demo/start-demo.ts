/**
 * `npm start`: runs `ckptd daemon` on `config.example.yaml` beside the bundled demo trainer, so a
 * newcomer sees backups, saves and rolling deletions happen live. Ctrl-C stops both cleanly.
 * Only the demo's own folders (`demo/run`, `demo/.ckptd`) are reset at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const runDir = path.join(root, 'demo', 'run');
const storeDir = path.join(root, 'demo', '.ckptd');
const config = path.join(root, 'config.example.yaml');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const trainerJs = path.join(root, 'dist', 'demo', 'trainer.js');
const epochs = process.env.DEMO_EPOCHS ?? '12';

fs.rmSync(runDir, { recursive: true, force: true });
fs.rmSync(storeDir, { recursive: true, force: true });

const say = (s: string): void => void process.stdout.write(`\n== ${s}\n\n`);
say(`ckptd demo: a trainer writes a checkpoint every 4 s into demo/run; ckptd backs it up every 2 epochs
   (keeping 3) and saves the model every 5 epochs, as config.example.yaml says.
   While it runs, try in another terminal:  npx ckptd list --config config.example.yaml
   Edit config.example.yaml (e.g. backup.every: 3 epochs) and watch the daemon apply it live. Ctrl-C stops.`);

const daemon = spawn(process.execPath, [...NODE_FLAGS, cli, 'daemon', '--config', config], { stdio: 'inherit' });
let trainer: ChildProcess | null = null;
let stopping = false;

const stopAll = (): void => {
  if (stopping) return;
  stopping = true;
  trainer?.kill('SIGINT');
  daemon.kill('SIGINT');
};
// A terminal's Ctrl-C reaches the children too; we only make sure both get it and wait for them.
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

daemon.on('exit', (code) => {
  trainer?.kill('SIGINT');
  process.exitCode = code ?? 0;
  if (!stopping && code !== 0) say(`the daemon exited with code ${code}`);
});

setTimeout(() => {
  if (stopping) return;
  trainer = spawn(process.execPath, [trainerJs, '--dir', runDir, '--epochs', epochs, '--epoch-seconds', '4'], { stdio: 'inherit' });
  trainer.on('exit', () => {
    if (stopping) return;
    if (process.stdout.isTTY) {
      say('the demo trainer finished. ckptd keeps watching; run `npx ckptd list --config config.example.yaml`, then Ctrl-C to stop.');
    } else {
      say('the demo trainer finished; stopping the daemon.');
      setTimeout(stopAll, 3000);
    }
  });
}, 1500);
