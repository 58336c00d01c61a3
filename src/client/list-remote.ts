/**
 * `ckptd list --remote [--all-runs]` and the `remote` flag of local `list --json` items (SPEC
 * section 8): what the run's remote holds, read without any lock (manifests are written whole).
 */
import type { RunConfig } from '../config/types.js';
import { openRunRemote } from '../ops/remote-open.js';
import { listRemoteRuns, openRemoteStore } from '../store/remote/remote-store.js';
import type { RecordMeta } from '../store/types.js';

/** A remote `list` item: the record without its manifest, `location: "remote"`, and its run. */
export type RemoteListed = Omit<RecordMeta, 'files'> & { location: 'remote' };

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
    return out.sort((a, b) => (a.created === b.created ? (a.id < b.id ? 1 : -1) : a.created < b.created ? 1 : -1));
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
    const all = Promise.all([remote.listSnapshots(), remote.listSaves()]);
    const [snapshots, saves] = await Promise.race([all, timeout]);
    return new Set([...snapshots, ...saves].map((r) => r.id));
  } catch (err) {
    onUnreachable((err as Error).message);
    return null;
  } finally {
    clearTimeout(timer);
    remote.objects.close();
  }
}
