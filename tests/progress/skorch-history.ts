/**
 * skorch's `history.json`, byte for byte as skorch writes it: `Checkpoint.save_model` calls
 * `net.save_params(f_history=...)`, which calls `History.to_file`, i.e.
 * `json.dump(self.to_list(), fp)`: one line, Python's separators `", "` and `": "`, one dict per
 * epoch. Each dict is built as `NeuralNet.fit_loop` and the default callbacks of
 * `NeuralNetClassifier` record it: `new_epoch()` starts `{"batches": []}`, then `epoch`, a dict per
 * batch (`train_loss`, `train_batch_size`, then `valid_loss`, `valid_batch_size`), the batch
 * counts, `dur` (`EpochTimer`), `train_loss`/`train_loss_best` and `valid_loss`/`valid_loss_best`
 * (`PassthroughScoring`), `valid_acc`/`valid_acc_best` (`EpochScoring`), and `event_cp`
 * (`Checkpoint`, true when it saved in that epoch). The file is written during the epoch's
 * `on_epoch_end`, so its last dict is that epoch.
 *
 * Numbers are written with JavaScript's shortest round-trip form, which is Python's `repr` for the
 * values used here (no whole-number floats, no exponents).
 */

/** What one epoch scored. */
export interface SkorchEpoch {
  trainLoss: number;
  validLoss: number;
  validAcc: number;
  dur: number;
}

/**
 * The text of `history.json` after the given epochs. `monitor` is `Checkpoint`'s: by default
 * (`valid_loss_best`) it saves only in epochs that improved `valid_loss`; with `null` in every epoch.
 */
export function skorchHistory(epochs: readonly SkorchEpoch[], monitor: 'valid_loss_best' | null = 'valid_loss_best'): string {
  const rows = epochs.map((e, i) => {
    const before = epochs.slice(0, i);
    const validLossBest = before.every((b) => e.validLoss < b.validLoss);
    return {
      batches: [
        // 200 samples in batches of 128: `PassthroughScoring` averages the batch losses by size.
        { train_loss: e.trainLoss + 0.09, train_batch_size: 128 },
        { train_loss: e.trainLoss - 0.16, train_batch_size: 72 },
        { valid_loss: e.validLoss, valid_batch_size: 50 },
      ],
      epoch: i + 1,
      train_batch_count: 2,
      valid_batch_count: 1,
      dur: e.dur,
      train_loss: e.trainLoss,
      train_loss_best: before.every((b) => e.trainLoss < b.trainLoss),
      valid_loss: e.validLoss,
      valid_loss_best: validLossBest,
      valid_acc: e.validAcc,
      valid_acc_best: before.every((b) => e.validAcc > b.validAcc),
      event_cp: monitor === null ? true : validLossBest,
    };
  });
  return pythonJson(rows);
}

/** `json.dumps(value)` with Python's default separators. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}
