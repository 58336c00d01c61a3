/**
 * A skorch run end to end: `Checkpoint(dirname='exp1', monitor=None)` writes `params.pt`,
 * `optimizer.pt`, `criterion.pt` and `history.json` every epoch (`Checkpoint.save_model`); a file
 * source reads the epoch, the loss and the validation metrics from the history's last dict; each
 * one-shot backup records them; `list`, `show` and `status` show them; and `retention.keep_best`
 * by `valid_loss` keeps the best epoch while rolling keeps only the newest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/daemon-process.js';
import { skorchHistory, type SkorchEpoch } from '../progress/skorch-history.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

const EPOCHS: SkorchEpoch[] = [
  { trainLoss: 0.6931, validLoss: 0.6815, validAcc: 0.55, dur: 0.4213 },
  { trainLoss: 0.5407, validLoss: 0.5122, validAcc: 0.74, dur: 0.3987 },
  { trainLoss: 0.4619, validLoss: 0.5731, validAcc: 0.71, dur: 0.4021 },
  { trainLoss: 0.4102, validLoss: 0.6204, validAcc: 0.69, dur: 0.4105 },
];

const CONFIG = `runs:
  - name: skorch
    path: ./exp1
    settle: 100ms
    progress:
      file: history.json
      epoch: "$[-1].epoch"
      loss: "$[-1].train_loss"
      metrics: {valid_loss: "$[-1].valid_loss", valid_acc: "$[-1].valid_acc"}
    backup: {every: never, keep: 1}
    retention: {keep_best: {metric: valid_loss, mode: min, count: 1}, min_free: 0}
`;

interface Item {
  id: string;
  epoch: number | null;
  loss: number | null;
  metrics: Record<string, number>;
}

/** What `Checkpoint.save_model` leaves after epoch `n`: the module states first, then the history. */
function writeEpoch(run: string, n: number): void {
  const at = new Date(Date.now() - 60_000 + n * 1000);
  for (const name of ['params.pt', 'optimizer.pt', 'criterion.pt']) fs.writeFileSync(path.join(run, name), `${name} after epoch ${n}`);
  fs.writeFileSync(path.join(run, 'history.json'), skorchHistory(EPOCHS.slice(0, n), null));
  for (const name of ['params.pt', 'optimizer.pt', 'criterion.pt', 'history.json']) fs.utimesSync(path.join(run, name), at, at);
}

describe('a skorch run with a file source carrying metrics', () => {
  it('records valid_loss and valid_acc with each backup, shows them, and keep_best keeps the best by valid_loss', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const run = path.join(t.dir, 'exp1');
    fs.mkdirSync(run);
    const cfg = path.join(t.dir, 'ckptd.yaml');
    fs.writeFileSync(cfg, CONFIG);
    expect((await runCli(['check-config', cfg])).code).toBe(0);

    for (let n = 1; n <= EPOCHS.length; n++) {
      writeEpoch(run, n);
      const r = await runCli(['backup-now', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
    }

    const items = JSON.parse((await runCli(['list', '--json', '--config', cfg])).stdout) as Item[];
    // keep: 1 rolls every backup but the newest (epoch 4) away; keep_best spares epoch 2 (valid_loss 0.5122).
    expect(items.map((i) => [i.epoch, i.loss, i.metrics])).toEqual([
      [4, 0.4102, { valid_loss: 0.6204, valid_acc: 0.69 }],
      [2, 0.5407, { valid_loss: 0.5122, valid_acc: 0.74 }],
    ]);

    const table = (await runCli(['list', '--config', cfg])).stdout.split('\n');
    expect(table[0]).toMatch(/LOSS\s+VALID_LOSS\s+CREATED/);
    expect(table.find((l) => l.startsWith(items[1]!.id))).toMatch(/e2\s+0\.5407\s+0\.5122\s/);

    const shown = (await runCli(['show', items[1]!.id, '--config', cfg])).stdout;
    expect(shown).toContain('valid_loss: 0.5122');
    expect(shown).toContain('valid_acc:  0.74');

    const status = (await runCli(['status', '--config', cfg])).stdout;
    expect(status).toContain('progress:    epoch 4, loss 0.4102 (from file)');
    expect(status).toContain('metrics:     valid_loss 0.6204, valid_acc 0.69');
  });
});
