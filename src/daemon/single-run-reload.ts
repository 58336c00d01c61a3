/**
 * What `ckptd run` applies of an edited config file: the edits of its own run, live, except those
 * that cannot apply to a training in progress. Pure: no fs, clock or logger.
 *
 * Contract (`narrowToRun(next, current)`, `current` being the run as applied so far):
 * - The result has exactly one run, named as `current`: other runs of the file are not this
 *   process's to watch or lock, whatever the edit adds, changes or removes of them.
 * - A file without a run of that name (removed, renamed) keeps `current` as it is, with a note.
 * - The run keeps `current`'s `store` and `path`, with a note for each that the file changed: the
 *   store holds this process's lock and the training's session record, and the trainer writes where
 *   it was started to; a new place applies at the next `ckptd run`.
 *   A `save.to` left to its default (`<store>/saves`) stays in the kept store.
 * - Everything else of the run (policies, retention, settle, include/exclude, progress, remote,
 *   priority) and the top-level settings (`log`) are `next`'s.
 */
import path from 'node:path';
import type { Config, RunConfig } from '../config/types.js';

export interface NarrowedConfig {
  config: Config;
  /** One sentence for each edit held back for this training; empty when all of it applies. */
  held: string[];
}

/** `next` narrowed to the run `current` names, as the contract above says. */
export function narrowToRun(next: Config, current: RunConfig): NarrowedConfig {
  const file = next.file ?? 'the config file';
  const edited = next.runs.find((r) => r.name === current.name);
  if (edited === undefined) {
    return {
      config: { ...next, runs: [current] },
      held: [
        `${file} no longer has a run named ${current.name}: this training goes on being backed up as before, ` +
          `and edits apply to it again once you name it ${current.name} again (a new name takes effect at the next \`ckptd run\`)`,
      ],
    };
  }
  const held: string[] = [];
  const keep = (key: 'store' | 'path', why: string): void => {
    if (edited[key] !== current[key]) held.push(`${key} ${current[key]} → ${edited[key]} applies at the next \`ckptd run\`: ${why}`);
  };
  keep('store', `this training's lock and session record are in ${current.store}, and its backups go on there`);
  keep('path', `this training is backed up from ${current.path}, where it was started`);
  // A save.to left to its default moved with the store; the saves stay beside the kept one.
  const saveTo = edited.save.to === path.join(edited.store, 'saves') ? path.join(current.store, 'saves') : edited.save.to;
  const run = { ...edited, store: current.store, path: current.path, save: { ...edited.save, to: saveTo } };
  return { config: { ...next, runs: [run] }, held };
}
