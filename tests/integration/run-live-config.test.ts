/**
 * `ckptd run` follows edits of its config file while the trainer runs, as `ckptd daemon` does
 * (SPEC section 3: an edit applies to the training in progress): a new backup policy governs the
 * epochs that follow; an edit that does not load leaves the last good config in force; a run
 * removed or renamed in the file, or moved to another store, goes on being backed up where and as
 * it was; other runs of the file are never watched or locked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, type LogLine } from '../helpers/daemon-process.js';
import { startRun, type RunHandle } from '../helpers/run-process.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/**
 * A trainer the test steps: it writes epochs up to the number in CONTROL (model.bin, a line of
 * notes.txt, then state.json), and exits 0 once CONTROL also says `finish`.
 */
const STEPPED_TRAINER = `
import fs from 'node:fs';
import path from 'node:path';
const [runDir, control] = process.argv.slice(2);
let done = 0;
for (;;) {
  let want = { epoch: 0, finish: false };
  try { want = JSON.parse(fs.readFileSync(control, 'utf8')); } catch {}
  while (done < want.epoch) {
    done++;
    fs.writeFileSync(path.join(runDir, 'model.bin'), ('weights after epoch ' + done + '\\n').repeat(500));
    fs.appendFileSync(path.join(runDir, 'notes.txt'), 'epoch ' + done + '\\n');
    fs.writeFileSync(path.join(runDir, 'state.json'), JSON.stringify({ epoch: done, step: done * 100 }));
  }
  if (want.finish) process.exit(0);
  await new Promise((r) => setTimeout(r, 20));
}
`;

function config(opts: { name?: string; backup: string; store?: string; exclude?: string; more?: string }): string {
  return `log: {level: debug, format: json}
runs:
  - name: ${opts.name ?? 'r'}
    path: ./run${opts.store ? `\n    store: ${opts.store}` : ''}
    settle: 200ms${opts.exclude ? `\n    exclude: ${opts.exclude}` : ''}
    progress: {file: state.json, epoch: epoch, step: step}
    backup: ${opts.backup}
    retention: {min_free: 0}
${opts.more ?? ''}`;
}

interface Training {
  dir: string;
  cfg: string;
  ckptd: RunHandle;
  /** Has the trainer write epochs up to `e`; resolves once ckptd has evaluated epoch `e`. */
  train(e: number): Promise<void>;
  /** Rewrites the config file (as an editor saving it) and waits for the log line `pred` matches. */
  edit(text: string, pred: (l: LogLine) => boolean, what: string): Promise<void>;
  /** Lets the trainer finish; resolves with ckptd's exit code. */
  finish(): Promise<number | null>;
  /** The epochs ckptd took policy backups of, in order. */
  backups(): unknown[];
}

async function startTraining(cfgText: string): Promise<Training> {
  const t = tempDir('ckptd-run-live-');
  cleanups.push(t.cleanup);
  fs.mkdirSync(path.join(t.dir, 'run'));
  const cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(cfg, cfgText);
  const trainer = path.join(t.dir, 'trainer.mjs');
  fs.writeFileSync(trainer, STEPPED_TRAINER);
  const control = path.join(t.dir, 'control.json');
  const tell = (want: { epoch: number; finish: boolean }): void => {
    fs.writeFileSync(`${control}.tmp`, JSON.stringify(want));
    fs.renameSync(`${control}.tmp`, control);
  };
  const ckptd = startRun(['run', '--config', cfg, '--', process.execPath, trainer, path.join(t.dir, 'run'), control]);
  cleanups.push(async () => {
    if (ckptd.proc.exitCode === null && ckptd.proc.signalCode === null) {
      process.kill(-ckptd.proc.pid!, 'SIGKILL');
      await ckptd.exited;
    }
  });
  const waitLine = async (pred: (l: LogLine) => boolean, what: string, from: number): Promise<void> => {
    await waitUntil(() => ckptd.lines().slice(from).some(pred), `${what}; ckptd's log:\n${ckptd.stderr()}`, 20_000);
  };
  await waitLine((l) => l.event === 'trainer-start', 'the trainer to start', 0);
  let epoch = 0;
  return {
    dir: t.dir,
    cfg,
    ckptd,
    async train(e) {
      for (epoch++; epoch <= e; epoch++) {
        const from = ckptd.lines().length;
        tell({ epoch, finish: false });
        await waitLine((l) => l.event === 'evaluated' && l.epoch === epoch, `the evaluation of epoch ${epoch}`, from);
      }
      epoch = e;
    },
    async edit(text, pred, what) {
      const from = ckptd.lines().length;
      fs.writeFileSync(`${cfg}.tmp`, text);
      fs.renameSync(`${cfg}.tmp`, cfg);
      await waitLine(pred, what, from);
    },
    async finish() {
      tell({ epoch, finish: true });
      return (await ckptd.exited).code;
    },
    backups: () => ckptd.lines().filter((l) => l.event === 'snapshot' && l.kind === 'backup').map((l) => l.epoch),
  };
}

const snapshotsIn = (store: string): string[] => (fs.existsSync(path.join(store, 'snapshots')) ? fs.readdirSync(path.join(store, 'snapshots')) : []);

describe('ckptd run follows edits of its config file', () => {
  it('a new backup policy applies to the epochs the trainer writes after the edit', async () => {
    const t = await startTraining(config({ backup: '{every: 10 epochs}' }));
    await t.train(3);
    expect(t.backups()).toEqual([]);

    // Overdue at once (epoch 0 -> 3 crosses a multiple of 2): the edit backs up epoch 3 without
    // waiting for the trainer (README, "Live edits"). Waited for here: a trainer moving on during
    // that capture made it a backup of epoch 4, a race the test had taken for the rule.
    await t.edit(config({ backup: '{every: 2 epochs}' }), (l) => l.event === 'snapshot' && l.kind === 'backup', 'the backup the edit made overdue');
    expect(t.backups()).toEqual([3]);
    await t.train(7);
    expect(t.backups()).toEqual([3, 4, 6]);
    expect(await t.finish()).toBe(0);
    expect(snapshotsIn(path.join(t.dir, '.ckptd', 'r'))).toHaveLength(3);
  });

  it('an edit that does not load leaves the last good config in force, and the trainer untouched', async () => {
    const t = await startTraining(config({ backup: '{every: 2 epochs}' }));
    await t.train(2);
    expect(t.backups()).toEqual([2]);

    // The problem and "the previous config stays in force" are two lines: wait for the second,
    // or stderr may be read between them.
    await t.edit(config({ backup: '{every: 1 epochs' }), (l) => l.event === 'config-invalid' && l.message.includes('the previous config stays in force'), 'the broken edit to be reported');
    expect(t.ckptd.stderr()).toContain('the YAML does not parse');
    await t.train(4);
    expect(t.backups()).toEqual([2, 4]);

    // Fixed: the fixed policy applies from there on.
    await t.edit(config({ backup: '{every: 1 epochs}' }), (l) => l.event === 'reload' && l.message.includes('backup.every'), 'the fixed edit to apply');
    await t.train(5);
    expect(t.backups()).toEqual([2, 4, 5]);
    expect(await t.finish()).toBe(0);
  });

  it('a run renamed in the file keeps being backed up as it was; another run added there is left alone', async () => {
    const t = await startTraining(config({ backup: '{every: 2 epochs}' }));
    await t.train(2);
    fs.mkdirSync(path.join(t.dir, 'other'));
    fs.writeFileSync(path.join(t.dir, 'other', 'model.bin'), 'another training');
    const other = `  - name: other
    path: ./other
    backup: {every: always}
    retention: {min_free: 0}
`;
    await t.edit(
      config({ name: 'renamed', backup: '{every: 1 epochs}', more: other }),
      (l) => l.event === 'run-config-held',
      'a warning that the run is no longer in the file',
    );
    expect(t.ckptd.stderr()).toMatch(/no longer has a run named r\b.*name it r again/);
    await t.train(4);
    // The old policy, in the old store; neither the renamed run's store nor the other run's is touched.
    expect(t.backups()).toEqual([2, 4]);
    expect(await t.finish()).toBe(0);
    expect(snapshotsIn(path.join(t.dir, '.ckptd', 'r'))).toHaveLength(2);
    expect(fs.existsSync(path.join(t.dir, '.ckptd', 'renamed'))).toBe(false);
    expect(fs.existsSync(path.join(t.dir, '.ckptd', 'other'))).toBe(false);
  });

  it('a new store waits for the next ckptd run; a policy edit saved with it applies now', async () => {
    const t = await startTraining(config({ backup: '{every: 2 epochs}' }));
    await t.train(2);
    await t.edit(
      config({ backup: '{every: 1 epochs}', store: './elsewhere' }),
      (l) => l.event === 'reload' && l.message.includes('backup.every'),
      'the new backup policy to apply',
    );
    expect(t.ckptd.stderr()).toMatch(/store .*elsewhere.* applies at the next `ckptd run`/);
    await t.train(4);
    expect(t.backups()).toEqual([2, 3, 4]);
    expect(await t.finish()).toBe(0);
    expect(snapshotsIn(path.join(t.dir, '.ckptd', 'r'))).toHaveLength(3);
    expect(fs.existsSync(path.join(t.dir, 'elsewhere'))).toBe(false);
  });

  it('the final state is the one the edited exclude defines: ckptd waits for its evaluation, not for a state it never sees', async () => {
    const t = await startTraining(config({ backup: '{every: 1 epochs}' }));
    await t.train(1);
    await t.edit(config({ backup: '{every: 1 epochs}', exclude: '["notes.txt"]' }), (l) => l.event === 'reload' && l.message.includes('exclude'), 'the new exclude to apply');
    await t.train(2);
    expect(await t.finish()).toBe(0);
    expect(t.ckptd.lines().filter((l) => l.event === 'final-evaluation' && l.level !== 'debug')).toEqual([]);
    expect(t.ckptd.lines().some((l) => l.event === 'final-evaluation' && l.outcome === 'evaluated')).toBe(true);
  });
});
