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

/** The ids the run's remote holds, or null when the run has no remote or it cannot be read now. */
export async function remoteIds(run: RunConfig): Promise<Set<string> | null> {
  if (run.remote === null) return null;
  const remote = await openRunRemote(run);
  try {
    return new Set([...(await remote.listSnapshots()), ...(await remote.listSaves())].map((r) => r.id));
  } catch {
    return null;
  } finally {
    remote.objects.close();
  }
}
