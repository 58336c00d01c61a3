/**
 * Tells the Version panel when a store's records change: a snapshot or save appears or goes, a
 * label is edited, `verify` marks one damaged — whoever did it (the daemon, a CLI command, the
 * panel itself). The store's signature (`Store.signature`) is compared every `pollMs`, and at once
 * (debounced) when the store hints at activity (`Store.watchActivity`: `fs.watch` for a local
 * store), so changes show within a fraction of a second where inotify works and within `pollMs`
 * everywhere.
 */
import { storeOf, type StoreRef } from '../store/local-store.js';
import type { ActivityWatch } from '../store/store.js';

export interface StoreWatchOptions {
  pollMs?: number;
  debounceMs?: number;
  /** More of the store to follow, as a signature of its own (the push queue of a run with a remote). */
  also?: () => Promise<string>;
}

/** The store's signature (see `Store.signature`): changes whenever its records do. */
export async function storeSignature(store: StoreRef): Promise<string> {
  return storeOf(store).signature();
}

/**
 * Calls `onChange` after the store's signature changes (not for the state it starts in). Returns
 * the function that stops watching.
 */
export function watchStore(ref: StoreRef, onChange: () => void, opts: StoreWatchOptions = {}): () => void {
  const store = storeOf(ref);
  const pollMs = opts.pollMs ?? 2000;
  const debounceMs = opts.debounceMs ?? 150;
  let last: string | null = null;
  let stopped = false;
  let checking = false;
  let again = false;
  let debounce: NodeJS.Timeout | null = null;

  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        const sig = opts.also ? `${await store.signature()}\n${await opts.also()}` : await store.signature();
        if (stopped) return;
        if (last !== null && sig !== last) onChange();
        last = sig;
      } while (again && !stopped);
    } finally {
      checking = false;
    }
    arm();
  };
  const soon = (): void => {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => void check(), debounceMs);
  };
  // Hints of activity, when the store gives them; folders made after the panel started are
  // picked up at the next check (and the poll sees every change meanwhile).
  let hints: ActivityWatch | null = null;
  const arm = (): void => {
    if (stopped) return;
    if (hints === null && store.watchActivity) hints = store.watchActivity(soon);
    else hints?.refresh();
  };

  void check();
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    if (debounce) clearTimeout(debounce);
    hints?.close();
    hints = null;
  };
}
