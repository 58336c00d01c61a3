/**
 * Watching a config file for edits, for whoever applies it live (the daemon, the Version panel).
 */
import { watch } from 'chokidar';

/** An editor's save can be several writes and a rename: one re-read after they stop. */
const DEBOUNCE_MS = 300;

/**
 * Calls `onChange('the config file changed')` once an edit of `file` has been quiet for
 * `DEBOUNCE_MS`, and `onChange('start-up check')` once the watch is ready (an edit made while it
 * was being set up is not reported as an event). The caller re-reads the file and decides whether
 * anything changed. Returns the function that stops watching.
 */
export function watchConfigFile(file: string, onChange: (reason: string) => void, onError: (err: Error) => void): () => Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  const w = watch(file, { ignoreInitial: true });
  w.on('all', () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange('the config file changed');
    }, DEBOUNCE_MS);
  });
  w.on('ready', () => onChange('start-up check'));
  w.on('error', (err) => onError(err instanceof Error ? err : new Error(String(err))));
  return async () => {
    if (timer) clearTimeout(timer);
    await w.close();
  };
}
