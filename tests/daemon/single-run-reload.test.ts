/**
 * `narrowToRun`: what `ckptd run` applies of an edited config file. Its run's edits, but in the
 * store and folder the training started with (and the saves beside that store when `save.to` is
 * left to its default); never another run of the file.
 */
import { describe, expect, it } from 'vitest';
import { narrowToRun } from '../../src/daemon/single-run-reload.js';
import { loadText } from '../helpers/config-text.js';

const STARTED = loadText(`runs:
  - name: r
    path: ./run
    backup: {every: 2 epochs}
    progress: hf
`).runs[0]!;

describe('narrowToRun', () => {
  it('applies the run\'s policy edits and leaves the other runs of the file out', () => {
    const next = loadText(`log: {level: debug}
runs:
  - name: other
    path: ./other
  - name: r
    path: ./run
    backup: {every: 1 epochs, keep: 3}
    progress: hf
`);
    const { config, held } = narrowToRun(next, STARTED);
    expect(held).toEqual([]);
    expect(config.log.level).toBe('debug');
    expect(config.runs).toEqual([next.runs[1]]);
  });

  it('keeps the store, the folder and the default saves folder, and says the new ones apply at the next ckptd run', () => {
    const next = loadText(`runs:
  - name: r
    path: ./elsewhere
    store: /mnt/backups/r
    backup: {every: 1 epochs}
    progress: hf
`);
    const { config, held } = narrowToRun(next, STARTED);
    expect(config.runs).toEqual([{ ...next.runs[0]!, path: STARTED.path, store: STARTED.store, save: { ...next.runs[0]!.save, to: STARTED.save.to } }]);
    expect(held).toHaveLength(2);
    expect(held[0]).toContain(`store ${STARTED.store} → /mnt/backups/r applies at the next \`ckptd run\``);
    expect(held[1]).toContain(`path ${STARTED.path} → ${next.runs[0]!.path} applies at the next \`ckptd run\``);
  });

  it('applies a save.to the edit names', () => {
    const next = loadText(`runs:
  - name: r
    path: ./run
    backup: {every: 2 epochs}
    save: {every: 5 epochs, to: /mnt/saves}
    progress: hf
`);
    expect(narrowToRun(next, STARTED).config.runs[0]!.save.to).toBe('/mnt/saves');
  });

  it('keeps the run as it is when the file no longer has it', () => {
    const next = loadText(`runs:
  - name: renamed
    path: ./run
    backup: {every: 1 epochs}
    progress: hf
`);
    const { config, held } = narrowToRun(next, STARTED);
    expect(config.runs).toEqual([STARTED]);
    expect(held).toEqual([expect.stringContaining('no longer has a run named r: ')]);
  });
});
