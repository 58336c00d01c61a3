import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { Config, ConfigProblem } from '../../src/config/types.js';
import { formatProblem } from '../../src/util/errors.js';
import { ALIAS_BOMB } from '../helpers/alias-bomb.js';

const FILE = '/home/ana/train/ckptd.yaml';
const HOME = '/home/ana';

function load(text: string): Config {
  const r = parseConfigText(text, FILE, HOME);
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

function problems(text: string): string[] {
  const r = parseConfigText(text, FILE, HOME);
  if (!('problems' in r)) throw new Error('expected problems, the config loaded');
  return r.problems.map((p: ConfigProblem) => formatProblem(p).slice(FILE.length + 1));
}

const minimal = 'runs:\n  - name: a\n    path: ./run\n';

describe('parseConfigText: a valid config', () => {
  it('fills every default of SPEC section 3 and makes paths absolute', () => {
    const c = load(minimal);
    expect(c.file).toBe(FILE);
    expect(c.log).toEqual({ level: 'info', file: null, format: 'text' });
    const run = c.runs[0]!;
    expect(run).toMatchObject({
      name: 'a',
      path: '/home/ana/train/run',
      store: '/home/ana/train/.ckptd/a',
      include: ['**/*'],
      exclude: [],
      settleMs: 2000,
      progress: { kind: 'auto' },
      modelType: null,
      priority: 'low',
    });
    expect(run.backup).toEqual({
      every: { unit: 'time', ms: 1_800_000 },
      everyText: '30 minutes',
      cron: null,
      rolling: true,
      keep: 3,
      beforeSave: true,
      deleteOnFinish: false,
    });
    expect(run.save).toEqual({
      every: { unit: 'never' },
      everyText: 'never',
      cron: null,
      files: ['**/*.safetensors', '**/*.ckpt', '**/*.pt', '**/*.bin'],
      prefix: '',
      to: '/home/ana/train/.ckptd/a/saves',
      keep: null,
      pick: 'auto',
    });
    expect(run.retention).toEqual({ keepBest: null, keepHourly: 0, keepDaily: 0, keepWeekly: 0, maxSizeBytes: null, minFreeBytes: 2 ** 30, minAgeMs: 3_600_000 });
  });

  it('reads every key', () => {
    const c = load(`log: {level: debug, file: logs/ckptd.log, format: json}
runs:
  - name: lora-1
    path: ~/runs/lora
    store: /mnt/backup/lora
    include: ["*.safetensors", "state/**"]
    exclude: ["*.log"]
    settle: 500ms
    model_type: SDXL LoRA
    progress: {file: state.json, epoch: state.epoch, step: "log[-1].step", loss: "log[-1].loss"}
    backup: {every: 2 epochs, cron: "0 */2 * * *", rolling: false, keep: 7, before_save: false, delete_on_finish: true}
    save: {every: 500 steps, files: ["*.safetensors"], prefix: "exp-", to: ../exports, keep: 4, pick: newest}
    retention: {keep_best: {metric: eval_loss}, keep_hourly: 24, keep_daily: 7, keep_weekly: 8, max_size: 50GB, min_free: 10GiB, min_age: 2h}
`);
    expect(c.log).toEqual({ level: 'debug', file: '/home/ana/train/logs/ckptd.log', format: 'json' });
    const run = c.runs[0]!;
    expect(run.path).toBe('/home/ana/runs/lora');
    expect(run.store).toBe('/mnt/backup/lora');
    expect(run.settleMs).toBe(500);
    expect(run.modelType).toBe('SDXL LoRA');
    expect(run.progress).toEqual({ kind: 'file', file: 'state.json', epoch: 'state.epoch', step: 'log[-1].step', loss: 'log[-1].loss', metrics: {} });
    expect(run.backup).toMatchObject({ every: { unit: 'epochs', n: 2 }, cron: '0 */2 * * *', rolling: false, keep: 7, beforeSave: false, deleteOnFinish: true });
    expect(run.save).toMatchObject({ every: { unit: 'steps', n: 500 }, prefix: 'exp-', to: '/home/ana/exports', keep: 4, pick: 'newest' });
    expect(run.retention).toEqual({
      keepBest: { metric: 'eval_loss', mode: 'min', count: 1 },
      keepHourly: 24,
      keepDaily: 7,
      keepWeekly: 8,
      maxSizeBytes: 50e9,
      minFreeBytes: 10 * 2 ** 30,
      minAgeMs: 7_200_000,
    });
  });

  it('a mistyped key of a file source gets a "did you mean", and is not blamed again for an empty source', () => {
    expect(problems('runs:\n  - name: a\n    path: r\n    progress: {file: s.json, epok: epoch}\n')).toEqual([
      '4:36 runs.0.progress.epok: unknown key "epok" (did you mean "epoch"?); a file source takes file, epoch, step, loss and metrics',
    ]);
  });

  it('blames a wrong metrics value once, not again for an empty source', () => {
    expect(problems('runs:\n  - name: a\n    path: r\n    progress: {file: h.json, metrics: {loss: "$[-1].train_loss"}}\n')).toEqual([
      '4:46 runs.0.progress.metrics.loss: "loss" has its own key: write loss: "$[-1].train_loss" beside file, not under metrics',
    ]);
  });

  it('reads a file source\'s metrics: name to key path', () => {
    const c = load('runs:\n  - name: a\n    path: r\n    progress: {file: history.json, epoch: "$[-1].epoch", metrics: {valid_loss: "$[-1].valid_loss", valid_acc: "[-1].valid_acc"}}\n');
    expect(c.runs[0]!.progress).toEqual({
      kind: 'file',
      file: 'history.json',
      epoch: '$[-1].epoch',
      step: null,
      loss: null,
      metrics: { valid_loss: '$[-1].valid_loss', valid_acc: '[-1].valid_acc' },
    });
  });

  it('accepts every preset name and a filename regex with named groups', () => {
    for (const p of ['auto', 'none', 'hf', 'lightning', 'keras', 'onetrainer', 'kohya', 'dfl']) {
      expect(load(`runs:\n  - name: a\n    path: r\n    progress: ${p}\n`).runs[0]!.progress.kind).toBe(p === 'auto' || p === 'none' ? p : 'preset');
    }
    const c = load("runs:\n  - name: a\n    path: r\n    progress: {filename: 'ep(?<epoch>\\d+)'}\n    backup: {every: 1 epochs}\n");
    expect(c.runs[0]!.progress).toEqual({ kind: 'filename', pattern: 'ep(?<epoch>\\d+)' });
  });
});

describe('parseConfigText: problems are located as LINE:COL key.path: message', () => {
  it.each<[string, string, RegExp]>([
    ['unknown key with did-you-mean', 'runs:\n  - name: a\n    path: ./run\n    backup:\n      evry: 3 epochs\n', /^5:7 runs\.0\.backup\.evry: unknown key "evry" \(did you mean "every"\?\)/],
    ['unknown top-level key', 'rns: []\n', /^1:1 rns: unknown key "rns" \(did you mean "runs"\?\)/],
    ['missing runs', 'log: {level: info}\n', /^1:1 runs: is required/],
    ['empty runs', 'runs: []\n', /^1:7 runs: needs at least one run/],
    ['missing path', 'runs:\n  - name: a\n', /^2:5 runs\.0\.path: is required/],
    ['bad duration', 'runs:\n  - name: a\n    path: r\n    settle: soon\n', /^4:13 runs\.0\.settle: "soon" is not a duration/],
    ['bad size', 'runs:\n  - name: a\n    path: r\n    retention: {min_free: lots}\n', /^4:27 runs\.0\.retention\.min_free: "lots" is not a size/],
    ['bad every', 'runs:\n  - name: a\n    path: r\n    backup:\n      every: 2 epocs\n', /^5:14 runs\.0\.backup\.every: "2 epocs": unknown unit/],
    ['bad enum', 'log: {level: loud}\nruns:\n  - name: a\n    path: r\n', /^1:14 log\.level: must be one of error, warn, info, debug, not "loud"/],
    ['bad priority', 'runs:\n  - name: a\n    path: r\n    priority: high\n', /^4:15 runs\.0\.priority: must be one of low, normal, not "high"/],
    ['wrong type', 'runs:\n  - name: a\n    path: r\n    backup: {keep: many}\n', /^4:20 runs\.0\.backup\.keep: must be a number, not "many"/],
    ['a mapping given one value names its keys', 'remote: {url: s3://b, keep: 5}\nruns:\n  - name: a\n    path: r\n', /^1:29 remote\.keep: must be a mapping of keys \(keep_best, keep_hourly, keep_daily, keep_weekly, max_size, min_age, keep\), not 5$/],
    ['a list given one glob shows it as a list', 'runs:\n  - name: a\n    path: r\n    save: {files: "*.pt"}\n', /^4:19 runs\.0\.save\.files: must be a list, not "\*\.pt"; write \["\*\.pt"\]$/],
    ['keep below 1', 'runs:\n  - name: a\n    path: r\n    backup: {keep: 0}\n', /^4:20 runs\.0\.backup\.keep: must be at least 1, not 0/],
    ['bad run name', 'runs:\n  - name: My Run\n    path: r\n', /^2:11 runs\.0\.name: "My Run" is not a valid run name.*"my-run"/],
    ['run name "." (the store would hold the other runs\' stores)', 'runs:\n  - name: "."\n    path: r\n', /^2:11 runs\.0\.name: "\." is not a valid run name: the name is a folder .* use a name with a letter or digit/],
    ['run name ".."', 'runs:\n  - name: ".."\n    path: r\n', /^2:11 runs\.0\.name: "\.\." is not a valid run name: the name is a folder/],
    ['duplicate names', 'runs:\n  - name: a\n    path: r1\n  - name: a\n    path: r2\n', /^4:11 runs\.1\.name: the run name "a" is already used by runs\.0/],
    ['store inside the run', 'runs:\n  - name: a\n    path: r\n    store: r/.backups\n', /^4:12 runs\.0\.store: the store .* is inside the run folder/],
    ['store at the root', 'runs:\n  - name: a\n    path: r\n    store: /\n', /^4:12 runs\.0\.store: the store cannot be the file system root/],
    ['shared store', 'runs:\n  - name: a\n    path: r1\n    store: s\n  - name: b\n    path: r2\n    store: s\n', /^7:12 runs\.1\.store: runs\.0 \("a"\) uses the same store/],
    ['save.to inside the run', 'runs:\n  - name: a\n    path: r\n    save: {to: r/exports}\n', /^4:16 runs\.0\.save\.to: .* is inside the run folder/],
    ['save.to inside the store', 'runs:\n  - name: a\n    path: r\n    store: s\n    save: {to: s/.staging}\n', /^5:16 runs\.0\.save\.to: .*\/s\/\.staging is inside .*\/s\/\.staging, a folder of the store's own, where its clean-up could remove saves/],
    ['two runs of one folder', 'runs:\n  - name: a\n    path: r\n    store: s1\n  - name: b\n    path: ./r/\n    store: s2\n', /^6:11 runs\.1\.path: .*\/r is the folder of runs\.0 \("a"\), .*: both would capture its files/],
    ['a run inside another', 'runs:\n  - name: a\n    path: r\n    store: s1\n  - name: b\n    path: r/sub\n    store: s2\n', /^6:11 runs\.1\.path: .*\/r\/sub is inside the folder of runs\.0 \("a"\)/],
    ['save.to in another run\'s folder', 'runs:\n  - name: a\n    path: r1\n  - name: b\n    path: r2\n    save: {to: r1/exports}\n', /^6:16 runs\.1\.save\.to: .*\/r1\/exports is inside the run folder of runs\.0 \("a"\)/],
    ['save.to in another run\'s store', 'runs:\n  - name: a\n    path: r1\n    store: s1\n  - name: b\n    path: r2\n    save: {to: s1/snapshots/x}\n', /^7:16 runs\.1\.save\.to: .*\/s1\/snapshots\/x is inside the store of runs\.0 \("a"\)/],
    ['epochs without progress', 'runs:\n  - name: a\n    path: r\n    progress: none\n    backup: {every: 3 epochs}\n', /^5:21 runs\.0\.backup\.every: "epochs" needs a progress source, but progress is none/],
    ['steps without a step path', 'runs:\n  - name: a\n    path: r\n    progress: {file: s.json, epoch: e}\n    save: {every: 10 steps}\n', /runs\.0\.save\.every: "steps" needs progress\.step/],
    ['unknown progress preset', 'runs:\n  - name: a\n    path: r\n    progress: hugging\n', /^4:15 runs\.0\.progress: "hugging" is not a progress source/],
    ['bad key path', 'runs:\n  - name: a\n    path: r\n    progress: {file: s.json, loss: "log[-1"}\n', /runs\.0\.progress\.loss: bad key path/],
    ['metrics not a mapping', 'runs:\n  - name: a\n    path: r\n    progress: {file: h.json, metrics: [valid_loss]}\n', /^4:39 runs\.0\.progress\.metrics: must map metric names to key paths, e\.g\. \{valid_loss: "\$\[-1\]\.valid_loss"/],
    ['a metric named loss', 'runs:\n  - name: a\n    path: r\n    progress: {file: h.json, metrics: {loss: "$[-1].train_loss"}}\n', /runs\.0\.progress\.metrics\.loss: "loss" has its own key: write loss: "\$\[-1\]\.train_loss" beside file, not under metrics/],
    ['a metric that is not a key path', 'runs:\n  - name: a\n    path: r\n    progress: {file: h.json, metrics: {valid_loss: 3}}\n', /runs\.0\.progress\.metrics\.valid_loss: must be a key path such as "state\.valid_loss", "log_history\[-1\]\.valid_loss" or "\$\[-1\]\.valid_loss"/],
    ['a metric with a bad key path', 'runs:\n  - name: a\n    path: r\n    progress: {file: h.json, metrics: {acc: "$[-1"}}\n', /runs\.0\.progress\.metrics\.acc: bad key path "\$\[-1"/],
    ['regex without groups', "runs:\n  - name: a\n    path: r\n    progress: {filename: 'ep\\d+'}\n", /runs\.0\.progress\.filename: the regex needs at least one named group/],
    ['broken regex', "runs:\n  - name: a\n    path: r\n    progress: {filename: '(?<epoch>'}\n", /runs\.0\.progress\.filename: not a valid regular expression/],
    ['absolute glob', 'runs:\n  - name: a\n    path: r\n    include: [/etc/**]\n', /^4:15 runs\.0\.include\.0: "\/etc\/\*\*" must be relative/],
    ['unclosed glob', 'runs:\n  - name: a\n    path: r\n    exclude: ["*.{log"]\n', /runs\.0\.exclude\.0: "\*\.\{log" has an unclosed/],
    ['bad cron', 'runs:\n  - name: a\n    path: r\n    backup: {cron: "every day"}\n', /runs\.0\.backup\.cron: "every day" is not a cron schedule/],
    ['bad save.pick', 'runs:\n  - name: a\n    path: r\n    save: {pick: latest}\n', /^4:18 runs\.0\.save\.pick: must be one of auto, newest, all, not "latest"/],
    ['bad prefix', 'runs:\n  - name: a\n    path: r\n    save: {prefix: "a/b"}\n', /runs\.0\.save\.prefix: "a\/b" cannot hold/],
    // Every save would fail with ENAMETOOLONG: "aa...a" + "a" + "-e1-s1-<id>.safetensors" is past 255 bytes.
    ['prefix too long for a file name', `runs:\n  - name: a\n    path: r\n    save: {prefix: "${'é'.repeat(100)}"}\n`, /^4:20 runs\.0\.save\.prefix: with the run's name it makes 201 bytes/],
    ['YAML syntax', 'runs:\n  - name: a\n   path: r\n', /^3:\d+ \(yaml\): /],
    ['duplicate YAML key', 'runs:\n  - name: a\n    name: b\n    path: r\n', /^3:5 runs\.0\.name: this key is given twice/],
    ['empty file', '', /^1:1 \(top\): the file is empty/],
    ['settle past a timer', 'runs:\n  - name: a\n    path: r\n    settle: 30 days\n', /^4:13 runs\.0\.settle: "30 days" is too long; the most is 24 days/],
    ['every past 10 years', 'runs:\n  - name: a\n    path: r\n    backup:\n      every: 100000000000000000000 hours\n', /^5:14 runs\.0\.backup\.every: .* is too long; the most is 3650 days/],
    ['min_age past 10 years', 'runs:\n  - name: a\n    path: r\n    retention: {min_age: 4000 days}\n', /^4:26 runs\.0\.retention\.min_age: "4000 days" is too long/],
    ['count past 2^53', 'runs:\n  - name: a\n    path: r\n    save: {every: 99999999999999999999 changes}\n', /runs\.0\.save\.every: .*at most 9007199254740991/],
    ['keep past 2^53', 'runs:\n  - name: a\n    path: r\n    backup: {keep: 1e300}\n', /^4:20 runs\.0\.backup\.keep: must be at most 9007199254740991, not 1e\+300/],
  ])('%s', (_what, text, expected) => {
    const got = problems(text);
    expect(got.some((p) => expected.test(p)), got.join('\n')).toBe(true);
  });

  it('reports every problem, not only the first', () => {
    const got = problems('runs:\n  - name: a\n    path: r\n    settle: soon\n    backup: {every: 3 ages, keep: 2}\n    save: {prefix: "x/"}\n');
    expect(got.map((p) => p.split(' ')[1])).toEqual(['runs.0.settle:', 'runs.0.backup.every:', 'runs.0.save.prefix:']);
  });

  it('reports a valid shape\'s problems in the order they are checked, run by run, then across runs', () => {
    // Pinned so a change to how normalizing is split up cannot reorder the output unnoticed.
    const got = problems(
      'runs:\n  - name: a\n    path: ./run\n    store: ./run/st\n    settle: zz\n    progress: none\n    backup: {every: 3 epochs, cron: nope}\n' +
        '    save: {every: junk, prefix: a/b}\n    retention: {min_age: e, min_free: w}\n  - name: a\n    path: ./run/st/deeper\n',
    );
    expect(got.map((p) => p.split(' ').slice(0, 2).join(' '))).toEqual([
      '4:12 runs.0.store:',
      '5:13 runs.0.settle:',
      '7:21 runs.0.backup.every:',
      '8:19 runs.0.save.every:',
      '8:33 runs.0.save.prefix:',
      '9:39 runs.0.retention.min_free:',
      '7:37 runs.0.backup.cron:',
      '9:26 runs.0.retention.min_age:',
      '10:11 runs.1.name:',
      '11:11 runs.1.path:',
      '10:5 runs.1.store:',
    ]);
  });

  it('checks the values too when the only shape problem is an unknown key', () => {
    const got = problems('runs:\n  - name: a\n    path: r\n    progress: none\n    backup:\n      evry: 3 epochs\n    save:\n      every: 2 epocs\n');
    expect(got.map((p) => p.split(' ').slice(0, 2).join(' '))).toEqual(['6:7 runs.0.backup.evry:', '8:14 runs.0.save.every:']);
  });

  it('refuses a YAML alias bomb (billion laughs) as a located config problem, not a library throw', () => {
    const got = problems(ALIAS_BOMB);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^4:14 \(yaml\): too many alias expansions \(over 1000\).*write the values out/);
  });

  it('still reads a config that shares a value through aliases', () => {
    const c = load('runs:\n  - name: a\n    path: r\n    include: &inc ["**/*.pt"]\n  - name: b\n    path: s\n    include: *inc\n');
    expect(c.runs.map((r) => r.include)).toEqual([['**/*.pt'], ['**/*.pt']]);
  });

  it('resolves relative paths against the config file, not the working folder', () => {
    const c = load('runs:\n  - name: a\n    path: ../elsewhere/run\n');
    expect(c.runs[0]!.path).toBe(path.resolve('/home/ana/elsewhere/run'));
  });
});
