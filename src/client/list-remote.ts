/**
 * `ckptd list --remote [--all-runs]` and the `remote` flag of local `list --json` items (SPEC
 * section 8): what the run's remote holds, read without any lock (manifests are written whole).
 */
import type { RunConfig } from '../config/types.js';
import { openRunRemote } from '../ops/remote-open.js';
import { listRemoteRuns, openRemoteStore, type RemoteStore } from '../store/remote/remote-store.js';
import type { RecordMeta } from '../store/types.js';
import type { ListedRecord } from './list.js';
import { withoutCredentials } from './remote-status.js';

/** A remote `list` item: the record without its manifest, `location: "remote"`, and its run. */
export type RemoteListed = Omit<RecordMeta, 'files'> & { location: 'remote' };

/** What the run's remote held when asked, or why it could not be read. */
export type RemoteReading = { ok: true; records: RecordMeta[] } | { ok: false; reason: string };

/**
 * The run's remote records (snapshots and saves, with their manifests), newest first, read within
 * about `timeoutMs`: two tries per call and connection timeouts of that length, and an answer at
 * the deadline whatever the remote does (its connections are then closed). Never throws: a remote
 * that cannot be read is `{ok: false, reason}` (no credential ever in it). For a page that must answer.
 */
export async function readRemoteWithin(run: RunConfig, timeoutMs: number): Promise<RemoteReading> {
  let remote: RemoteStore | null = null;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<RemoteReading>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      remote?.objects.close();
      resolve({ ok: false, reason: `no answer within ${Math.round(timeoutMs / 100) / 10} s` });
    }, timeoutMs);
  });
  const read = (async (): Promise<RemoteReading> => {
    const opened = await openRunRemote(run, { retry: { attempts: 2, baseMs: 50, maxMs: 200 }, timeouts: { connectMs: timeoutMs, idleMs: timeoutMs } });
    remote = opened;
    try {
      if (timedOut) return { ok: false, reason: 'timed out' };
      const [snapshots, saves] = await Promise.all([opened.listSnapshots(), opened.listSaves()]);
      return { ok: true, records: newestFirst([...snapshots, ...saves]) };
    } finally {
      opened.objects.close();
    }
  })().catch((err: unknown): RemoteReading => ({ ok: false, reason: reasonOf(err) }));
  try {
    return await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where a record lives: only in the local store, only on the run's remote, or in both. */
export type RecordLocation = 'local' | 'remote' | 'both';

/** A `list` item with where it lives; a remote-only one frees nothing locally (`own_bytes` 0). */
export type PlacedRecord = ListedRecord & { location: RecordLocation };

/**
 * The local records and the remote ones as one list, newest first, each with its `location`.
 * With `remote` null (the remote could not be read) every local record is `local` and none is added.
 */
export function placeRecords(local: readonly ListedRecord[], remote: readonly RecordMeta[] | null): PlacedRecord[] {
  const remoteIds = new Set((remote ?? []).map((r) => r.id));
  const localIds = new Set(local.map((r) => r.id));
  const placed: PlacedRecord[] = local.map((r) => ({ ...r, location: remoteIds.has(r.id) ? 'both' : 'local' }));
  for (const { files: _files, ...rest } of remote ?? []) {
    if (!localIds.has(rest.id)) placed.push({ ...rest, own_bytes: 0, location: 'remote' });
  }
  return newestFirst(placed);
}

/** A failure as a short reason: the message, else the error's code or name; never a credential. */
function reasonOf(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; name?: unknown } | null;
  const text = [e?.message, e?.code, e?.name].find((t): t is string => typeof t === 'string' && t !== '') ?? String(err);
  return withoutCredentials(text);
}

function newestFirst<T extends { id: string; created: string }>(records: T[]): T[] {
  return records.sort((a, b) => (a.created === b.created ? (a.id < b.id ? 1 : -1) : a.created < b.created ? 1 : -1));
}

/** The remote records of the run (every run's under the same remote with `allRuns`), newest first. */
export async function listRemoteRecords(run: RunConfig, allRuns: boolean): Promise<RemoteListed[]> {
  const remote = await openRunRemote(run);
  try {
    const runs = allRuns ? await listRemoteRuns(remote.objects) : [run.name];
    const out: RemoteListed[] = [];
    for (const name of runs) {
      const store = name === run.name ? remote : openRemoteStore({ objects: remote.objects, run: name, scratchDir: '' });
      const records: RecordMeta[] = [...(await store.listSnapshots()), ...(await store.listSaves())];
      for (const { files: _files, ...rest } of records) out.push({ ...rest, location: 'remote' });
    }
    return newestFirst(out);
  } finally {
    remote.objects.close();
  }
}

/** How long a local `list` waits for the remote to say what it holds (a remote that is down must not hold up a local listing). */
const REMOTE_IDS_WAIT_MS = 5_000;

/**
 * The ids the run's remote holds, or null when the run has no remote or it cannot be read within
 * `REMOTE_IDS_WAIT_MS` (`onUnreachable` hears why).
 */
export async function remoteIds(run: RunConfig, onUnreachable: (why: string) => void = () => undefined): Promise<Set<string> | null> {
  if (run.remote === null) return null;
  const remote = await openRunRemote(run);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REMOTE_IDS_WAIT_MS / 1000} s`)), REMOTE_IDS_WAIT_MS);
  });
  try {
    return await Promise.race([remote.recordIds(), timeout]);
  } catch (err) {
    onUnreachable((err as Error).message);
    return null;
  } finally {
    clearTimeout(timer);
    remote.objects.close();
  }
}
