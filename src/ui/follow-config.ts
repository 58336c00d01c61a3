/**
 * Keeps the Version panel's runs in step with its config file: an edit that adds, removes or
 * changes a run shows in the open pages without restarting `ckptd ui`, as the daemon applies it.
 * An edit that does not validate is reported and the config in force stays.
 */
import { watch, type FSWatcher } from 'chokidar';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';

/** An editor's save can be several writes and a rename: one re-read after they stop. */
const DEBOUNCE_MS = 300;

/**
 * Watches `file`; after each change re-reads it and calls `onConfig` with the new config, or
 * `onInvalid` with the validation message (file, line, key) when it does not load. Returns the
 * function that stops watching.
 */
export function followConfigFile(file: string, onConfig: (next: Config) => void, onInvalid: (message: string) => void): () => Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  const reread = (): void => {
    timer = null;
    let next: Config;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      onInvalid((err as Error).message);
      return;
    }
    onConfig(next);
  };
  const w: FSWatcher = watch(file, { ignoreInitial: true });
  w.on('all', () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reread, DEBOUNCE_MS);
  });
  w.on('error', (err) => onInvalid(`cannot watch ${file}: ${err instanceof Error ? err.message : String(err)}`));
  return async () => {
    if (timer) clearTimeout(timer);
    await w.close();
  };
}
