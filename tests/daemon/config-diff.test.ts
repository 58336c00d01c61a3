import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { RemoteConfig, RunConfig } from '../../src/config/types.js';
import { describeChanges, needsRewatch, retentionChanged, stateRedefined } from '../../src/daemon/config-diff.js';

/** The run of a minimal config file (after `top`, top-level YAML), as the daemon gets it (defaults filled in). */
function baseRun(top = ''): RunConfig {
  const parsed = parseConfigText(`${top}runs:\n  - name: a\n    path: /tmp/r\n`, '/tmp/c.yaml', '/root');
  if (!('config' in parsed)) throw new Error('fixture config does not parse');
  return parsed.config.runs[0]!;
}

/** A remote as the loader makes it. */
const REMOTE: RemoteConfig = baseRun('remote: {url: s3://ckpt/p}\n').remote!;

type Edit = (r: RunConfig) => void;
const rows: { name: string; edit: Edit; changes: string[]; rewatch: boolean; retention: boolean }[] = [
  { name: 'nothing changed', edit: () => {}, changes: [], rewatch: false, retention: false },
  {
    name: 'same values in another key order (structural, not textual)',
    edit: (r) => {
      r.retention = Object.fromEntries(Object.entries(r.retention).reverse()) as RunConfig['retention'];
      r.progress = { kind: 'file', file: 'p.json', epoch: null, step: 'step', loss: null, metrics: {} };
    },
    changes: ['progress {"kind":"auto"} → {"kind":"file","file":"p.json","epoch":null,"step":"step","loss":null,"metrics":{}}'],
    rewatch: false,
    retention: false,
  },
  { name: 'backup.every, by its text', edit: (r) => void (r.backup.everyText = '2 epochs'), changes: ['backup.every "30 minutes" → "2 epochs"'], rewatch: false, retention: false },
  { name: 'backup.cron', edit: (r) => void (r.backup.cron = '0 * * * *'), changes: ['backup.cron null → "0 * * * *"'], rewatch: false, retention: false },
  { name: 'backup.keep', edit: (r) => void (r.backup.keep = 5), changes: ['backup.keep 3 → 5'], rewatch: false, retention: true },
  { name: 'backup.rolling', edit: (r) => void (r.backup.rolling = false), changes: ['backup.rolling true → false'], rewatch: false, retention: true },
  { name: 'backup.before_save', edit: (r) => void (r.backup.beforeSave = false), changes: ['backup.before_save true → false'], rewatch: false, retention: false },
  { name: 'save.every', edit: (r) => void (r.save.everyText = '1 epoch'), changes: ['save.every "never" → "1 epoch"'], rewatch: false, retention: false },
  { name: 'save.prefix', edit: (r) => void (r.save.prefix = 'run1-'), changes: ['save.prefix "" → "run1-"'], rewatch: false, retention: false },
  { name: 'save.files', edit: (r) => void (r.save.files = ['*.pt']), changes: ['save.files ["**/*.safetensors","**/*.ckpt","**/*.pt","**/*.bin"] → ["*.pt"]'], rewatch: false, retention: false },
  { name: 'save.pick', edit: (r) => void (r.save.pick = 'all'), changes: ['save.pick "auto" → "all"'], rewatch: false, retention: false },
  { name: 'save.to: watched afresh', edit: (r) => void (r.save.to = '/tmp/saves'), changes: ['save.to "/tmp/.ckptd/a/saves" → "/tmp/saves"'], rewatch: true, retention: false },
  { name: 'save.keep: not described, but retention', edit: (r) => void (r.save.keep = 2), changes: [], rewatch: false, retention: true },
  { name: 'include: watched afresh', edit: (r) => void (r.include = ['*.pt']), changes: ['include ["**/*"] → ["*.pt"]'], rewatch: true, retention: false },
  { name: 'exclude: watched afresh', edit: (r) => void (r.exclude = ['logs/**']), changes: ['exclude [] → ["logs/**"]'], rewatch: true, retention: false },
  { name: 'settle', edit: (r) => void (r.settleMs = 5000), changes: ['settle 2000 → 5000'], rewatch: false, retention: false },
  { name: 'watch: watched afresh', edit: (r) => void (r.watch = 'poll'), changes: ['watch "auto" → "poll"'], rewatch: true, retention: false },
  { name: 'path: watched afresh', edit: (r) => void (r.path = '/tmp/r2'), changes: ['path "/tmp/r" → "/tmp/r2"'], rewatch: true, retention: false },
  {
    name: 'retention, a nested value',
    edit: (r) => void (r.retention.keepBest = { metric: 'loss', mode: 'min', count: 2 }),
    changes: [
      'retention {"keepBest":null,"keepHourly":0,"keepDaily":0,"keepWeekly":0,"maxSizeBytes":null,"minFreeBytes":1073741824,"minAgeMs":3600000} → ' +
        '{"keepBest":{"metric":"loss","mode":"min","count":2},"keepHourly":0,"keepDaily":0,"keepWeekly":0,"maxSizeBytes":null,"minFreeBytes":1073741824,"minAgeMs":3600000}',
    ],
    rewatch: false,
    retention: true,
  },
  {
    name: 'remote added: described, neither watched afresh nor local retention',
    edit: (r) => void (r.remote = REMOTE),
    changes: [`remote null → ${JSON.stringify(REMOTE)}`],
    rewatch: false,
    retention: false,
  },
  { name: 'model type and delete_on_finish are not reported', edit: (r) => ((r.modelType = 'sdxl'), (r.backup.deleteOnFinish = true)), changes: [], rewatch: false, retention: false },
  {
    name: 'several changes, in the fixed order',
    edit: (r) => ((r.path = '/tmp/r2'), (r.backup.keep = 1), (r.settleMs = 100)),
    changes: ['backup.keep 3 → 1', 'settle 2000 → 100', 'path "/tmp/r" → "/tmp/r2"'],
    rewatch: true,
    retention: true,
  },
];

describe('config diff', () => {
  for (const row of rows) {
    it(row.name, () => {
      const prev = baseRun();
      const next = structuredClone(prev);
      row.edit(next);
      expect(describeChanges(prev, next)).toEqual(row.changes);
      expect(needsRewatch(prev, next)).toBe(row.rewatch);
      expect(retentionChanged(prev, next)).toBe(row.retention);
      // Only the folder and the globs make the state another set of files.
      expect(stateRedefined(prev, next)).toBe(/^(path|include|exclude|several)/.test(row.name));
    });
  }

  it("a change inside the remote (its keep) is described whole and touches neither the watch nor local retention", () => {
    const prev = baseRun('remote: {url: s3://ckpt/p}\n');
    const next = structuredClone(prev);
    next.remote = { ...REMOTE, keep: { keepLast: 2, keepBest: null, keepHourly: 0, keepDaily: 7, keepWeekly: 0, maxSizeBytes: null, minAgeMs: 0 } };
    expect(describeChanges(prev, next)).toEqual([`remote ${JSON.stringify(prev.remote)} → ${JSON.stringify(next.remote)}`]);
    expect(needsRewatch(prev, next)).toBe(false);
    expect(retentionChanged(prev, next)).toBe(false);
  });

  it('a key present as undefined is a change from a missing one (strict structural equality)', () => {
    const prev = baseRun();
    const next = structuredClone(prev);
    (next.retention as unknown as Record<string, unknown>).extra = undefined;
    expect(retentionChanged(prev, next)).toBe(true);
  });
});
